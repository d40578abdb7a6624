#!/bin/sh
# Regenerates tests/vectors/mail/cms/: keys, certificates and CMS/S-MIME objects made by
# `openssl cms` (OpenSSL 3.0).  The tests read the committed files; re-running this script makes
# new random keys, so commit its output as a whole.  Usage: sh make_cms_vectors.sh
set -eu
cd "$(dirname "$0")/cms"
O=openssl
days=36500
ca() {
  $O req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days $days \
    -subj "/CN=netsec test CA" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign,cRLSign 2>/dev/null
}
leaf() { # name keyalg-args subject
  name=$1; shift; subj=$1; shift
  $O genpkey "$@" -out $name.key 2>/dev/null
  $O req -new -key $name.key -subj "$subj" -out $name.csr
  $O x509 -req -in $name.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days $days -out $name.crt \
    -extfile /dev/stdin 2>/dev/null <<X
basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment,keyAgreement
X
  rm -f $name.csr
}
ca
leaf rsa "/CN=RSA user/emailAddress=rsa@example.org" -algorithm RSA -pkeyopt rsa_keygen_bits:2048
leaf rsa2 "/CN=Second RSA user" -algorithm RSA -pkeyopt rsa_keygen_bits:2048
leaf ec "/CN=EC user/O=netsec" -algorithm EC -pkeyopt ec_paramgen_curve:P-256
leaf ec384 "/CN=EC P-384 user" -algorithm EC -pkeyopt ec_paramgen_curve:P-384
leaf ed "/CN=Ed25519 user" -algorithm ED25519
printf 'Content-Type: text/plain\r\n\r\nHello from openssl cms.\r\nSecond line.\r\n' > content.txt
IN=content.txt
KEK=000102030405060708090a0b0c0d0e0f
KEKID=c0ffee
# --- SignedData ---
$O cms -sign -binary -nodetach -in $IN -signer rsa.crt -inkey rsa.key -outform DER -out signed-rsa.der
$O cms -sign -binary -nodetach -in $IN -signer rsa.crt -inkey rsa.key -md sha512 -keyopt rsa_padding_mode:pss -outform DER -out signed-rsapss.der
$O cms -sign -binary -nodetach -in $IN -signer ec.crt -inkey ec.key -outform DER -out signed-ecdsa.der
$O cms -sign -binary -nodetach -in $IN -signer ec384.crt -inkey ec384.key -md sha384 -outform DER -out signed-ecdsa384.der
$O cms -sign -binary -nodetach -noattr -in $IN -signer rsa.crt -inkey rsa.key -outform DER -out signed-noattr.der
$O cms -sign -binary -nodetach -nocerts -in $IN -signer ec.crt -inkey ec.key -outform DER -out signed-nocerts.der
$O cms -sign -binary -nodetach -in $IN -signer rsa.crt -inkey rsa.key -signer ec.crt -inkey ec.key -outform DER -out signed-two.der
$O cms -sign -binary -in $IN -signer rsa.crt -inkey rsa.key -outform DER -out signed-detached.der
# S/MIME: clear-signed (multipart/signed) and opaque (application/pkcs7-mime)
$O cms -sign -in $IN -signer rsa.crt -inkey rsa.key -out clear-signed.eml
$O cms -sign -nodetach -in $IN -signer ec.crt -inkey ec.key -out opaque-signed.eml
# --- EnvelopedData ---
for c in aes128 aes192 aes256 des3; do
  $O cms -encrypt -binary -in $IN -$c -outform DER -out env-rsa-$c.der rsa.crt
done
$O cms -encrypt -binary -in $IN -aes256 -recip rsa.crt -keyopt rsa_padding_mode:oaep -outform DER -out env-rsaoaep.der
$O cms -encrypt -binary -in $IN -aes256 -recip rsa.crt -keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256 -outform DER -out env-rsaoaep256.der
$O cms -encrypt -binary -in $IN -aes128 -recip ec.crt -outform DER -out env-ecdh.der
$O cms -encrypt -binary -in $IN -aes256 -recip ec384.crt -outform DER -out env-ecdh384.der
$O cms -encrypt -binary -in $IN -aes128 -secretkey $KEK -secretkeyid $KEKID -outform DER -out env-kek.der
$O cms -encrypt -binary -in $IN -aes256 -pwri_password "correct horse" -outform DER -out env-pwri.der
$O cms -encrypt -binary -in $IN -aes256 -outform DER -out env-multi.der rsa2.crt ec.crt rsa.crt
$O cms -encrypt -binary -in $IN -aes-256-gcm -recip rsa.crt -outform DER -out authenv-gcm256.der
$O cms -encrypt -binary -in $IN -aes-128-gcm -recip ec.crt -outform DER -out authenv-gcm128-ecdh.der
$O cms -encrypt -in $IN -aes256 -out enveloped.eml rsa.crt
# signed then encrypted (S/MIME nesting)
$O cms -sign -in $IN -signer rsa.crt -inkey rsa.key -out tmp-signed.eml
$O cms -encrypt -in tmp-signed.eml -aes128 -out signed-then-enveloped.eml ec.crt
rm -f tmp-signed.eml ca.srl
# openssl smime (S/MIME 2: application/x-pkcs7-*)
$O smime -sign -in $IN -signer rsa.crt -inkey rsa.key -out smime-clear-signed.eml
$O smime -sign -nodetach -in $IN -signer ec.crt -inkey ec.key -out smime-opaque-signed.eml
$O smime -encrypt -aes256 -in $IN -out smime-enveloped.eml rsa.crt
$O smime -encrypt -des3 -in $IN -out smime-enveloped-des3.eml rsa2.crt  # PKCS#7: RSA only
# CompressedData (only if this OpenSSL has zlib)
$O cms -compress -binary -in $IN -outform DER -out compressed.der 2>/dev/null || rm -f compressed.der
echo "$KEK" > kek.hex
echo "$KEKID" > kekid.hex
echo "correct horse" > password.txt
ls
