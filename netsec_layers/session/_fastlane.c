/* The native fast lane of `netsec decrypt -w` (issue #22): the steady state of TLS AEAD
 * connections, frame by frame, in C.
 *
 * The Python engine (session/engine.py, tcp.py, tls.py, plaintext.py) decides everything; once
 * a TLS connection is being rewritten as plaintext and both of its directions are in the steady
 * state (TCP in order with nothing buffered, TLS in sync under AEAD keys with nothing to
 * recover), session/fastlane.py checks its state out to this lane.  For each frame the lane
 * either
 *   - handles it completely, exactly as the Python path would (same TCP/TLS state changes, same
 *     output packets, byte for byte), returning the plaintext packets as a tuple of bytes, or
 *   - returns None *before changing any state*: the frame takes the Python path, whose first
 *     touch of a checked-out connection checks its state back in (TCPReassembler.reclaim).
 *
 * Handled: untagged Ethernet + IPv4 (no options, not a fragment) or IPv6 (no extension
 * headers) + TCP without SYN/FIN/RST, of a
 * checked-out connection, carrying nothing (an ACK) or the next bytes in sequence that hold only
 * TLS application-data records (type 23) that authenticate, with inner type 23 in TLS 1.3.  A
 * record cut across segments is held here (as the tracker's buffer would hold it).
 *
 * Ciphers: AES-128/256-GCM (TLS 1.2: RFC 5288 nonce = salt || explicit 8 bytes; TLS 1.3) and
 * ChaCha20-Poly1305 (RFC 7905 / RFC 8446 §5.3: nonce = IV XOR seq), through OpenSSL's EVP, the
 * tag checked before a byte of plaintext is used.  The AAD is RFC 5246 §6.2.3.3's (seq, type,
 * version, plaintext length) in TLS 1.2 and the record header in TLS 1.3 (RFC 8446 §5.2).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>

#define MAX_RECORD (16384 + 2048)
#define TAG_LEN 16
/* a direction's key: IP version (4, 6), source and destination address (16 bytes each, an IPv4
 * address in the first 4), source and destination port */
#define KEYLEN 37

enum { MODE_GCM12 = 1, MODE_XOR12 = 2, MODE_XOR13 = 3 };
enum { CIPHER_AES128GCM = 1, CIPHER_AES256GCM = 2, CIPHER_CHACHA = 3 };

typedef struct {
    EVP_CIPHER_CTX *ctx;
    int mode;
    unsigned char iv[12];  /* GCM12: the 4-byte salt first */
    uint64_t seq;          /* TLS record sequence number of the next record */
    uint32_t next_seq;     /* TCP sequence number expected next */
    uint64_t consumed;     /* TCP bytes taken since check-out */
    unsigned char *buf;    /* the start of a record not complete yet */
    Py_ssize_t buf_len, buf_cap;
    uint64_t records;      /* records opened since check-out */
    int out_side;          /* the output flow's side that sends this direction's plaintext */
} Dir;

typedef struct {
    PyObject *link;           /* bytes: link-layer header of this side's packets */
    unsigned char ip[40];     /* IPv4 header template (total length, ident, checksum set here)
                                 or IPv6 header template (payload length set here) */
    int iplen;                /* 20 or 40 */
    unsigned char ports[4];   /* this side's port, the peer's port */
    uint32_t seq0;            /* Endpoint.seq & 0xFFFFFFFF at check-out */
    uint64_t delta;           /* sequence numbers used since */
} Side;

typedef struct {
    PyObject *index;  /* int: the engine's TCP connection index */
    unsigned char key[KEYLEN];  /* of TCP client -> server segments */
    Dir dir[2];       /* 0: from the TCP client */
    Side side[2];     /* the output flow: 0 the TLS client, 1 the TLS server */
    uint16_t ident0;
    uint64_t ident_delta;  /* IP idents used since check-out: one per plaintext segment */
    long long last_frame, last_ts;  /* of the last bytes taken (valid once any were) */
} Conn;

typedef struct {
    unsigned char key[KEYLEN];
    Conn *conn;  /* NULL: empty slot */
    int dir;
} Slot;

typedef struct {
    PyObject_HEAD
    Slot *slots;
    Py_ssize_t cap, used;  /* slots (a power of 2), slots in use */
    Py_ssize_t nconns;
    PyObject *touch;      /* TCP connection table: move_to_end(index) */
    PyObject *frags;      /* the IP decoder's held fragments (a dict): no lane while any */
    PyObject *tls_conns;  /* the TLS tracker's connections (an OrderedDict) */
    PyObject *tls_touch;  /* its move_to_end */
    unsigned long long frames;
    unsigned char *join;  /* a held record start + this segment's bytes */
    Py_ssize_t join_cap;
    unsigned char *plain;  /* plaintexts of one segment */
    Py_ssize_t plain_cap;
    Py_ssize_t *recs;     /* per record: plaintext offset, length */
    Py_ssize_t recs_cap;
} Lane;

/* -- small helpers ------------------------------------------------------------------------ */

static int grow(unsigned char **p, Py_ssize_t *cap, Py_ssize_t need) {
    if (need <= *cap) return 0;
    Py_ssize_t n = *cap ? *cap : 4096;
    while (n < need) n *= 2;
    unsigned char *q = PyMem_Realloc(*p, (size_t)n);
    if (!q) { PyErr_NoMemory(); return -1; }
    *p = q;
    *cap = n;
    return 0;
}

static inline uint32_t be32(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void put16(unsigned char *p, unsigned v) { p[0] = (unsigned char)(v >> 8); p[1] = (unsigned char)v; }
static inline void put32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}
static inline void put64(unsigned char *p, uint64_t v) { put32(p, (uint32_t)(v >> 32)); put32(p + 4, (uint32_t)v); }

/* RFC 1071 sum of big-endian 16-bit words (a trailing odd byte is the high byte of a word). */
static uint64_t sum16(const unsigned char *p, size_t n, uint64_t acc) {
    while (n >= 8) {
        acc += ((uint64_t)p[0] << 8 | p[1]) + ((uint64_t)p[2] << 8 | p[3])
             + ((uint64_t)p[4] << 8 | p[5]) + ((uint64_t)p[6] << 8 | p[7]);
        p += 8;
        n -= 8;
    }
    while (n >= 2) { acc += (uint64_t)p[0] << 8 | p[1]; p += 2; n -= 2; }
    if (n) acc += (uint64_t)p[0] << 8;
    return acc;
}

static unsigned fold(uint64_t acc) {
    while (acc >> 16) acc = (acc & 0xFFFF) + (acc >> 16);
    return (unsigned)(~acc & 0xFFFF);
}

/* -- the connection table (open addressing, linear probing, backward-shift deletion) -------- */

static size_t hashkey(const unsigned char *k) {
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < KEYLEN; i++) { h ^= k[i]; h *= 1099511628211ULL; }
    return (size_t)(h ^ (h >> 29));
}

static Slot *find(Lane *self, const unsigned char *k) {
    if (!self->used) return NULL;
    size_t mask = (size_t)self->cap - 1;
    for (size_t i = hashkey(k) & mask;; i = (i + 1) & mask) {
        Slot *s = &self->slots[i];
        if (!s->conn) return NULL;
        if (memcmp(s->key, k, KEYLEN) == 0) return s;
    }
}

static int insert(Lane *self, const unsigned char *k, Conn *c, int dir) {
    if ((self->used + 1) * 2 > self->cap) {
        Py_ssize_t ncap = self->cap ? self->cap * 2 : 16;
        Slot *ns = PyMem_Calloc((size_t)ncap, sizeof(Slot));
        if (!ns) { PyErr_NoMemory(); return -1; }
        Slot *old = self->slots;
        Py_ssize_t ocap = self->cap;
        self->slots = ns;
        self->cap = ncap;
        self->used = 0;
        for (Py_ssize_t i = 0; i < ocap; i++)
            if (old[i].conn) insert(self, old[i].key, old[i].conn, old[i].dir);
        PyMem_Free(old);
    }
    size_t mask = (size_t)self->cap - 1;
    size_t i = hashkey(k) & mask;
    while (self->slots[i].conn) i = (i + 1) & mask;
    memcpy(self->slots[i].key, k, KEYLEN);
    self->slots[i].conn = c;
    self->slots[i].dir = dir;
    self->used++;
    return 0;
}

static void erase(Lane *self, Slot *s) {
    size_t mask = (size_t)self->cap - 1;
    size_t i = (size_t)(s - self->slots);
    self->slots[i].conn = NULL;
    self->used--;
    for (size_t j = (i + 1) & mask; self->slots[j].conn; j = (j + 1) & mask) {
        size_t home = hashkey(self->slots[j].key) & mask;
        /* move j back to i if its home is not in (i, j] (cyclically) */
        if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
            self->slots[i] = self->slots[j];
            self->slots[j].conn = NULL;
            i = j;
        }
    }
}

static void reverse_key(const unsigned char *k, unsigned char *r) {
    r[0] = k[0];
    memcpy(r + 1, k + 17, 16);
    memcpy(r + 17, k + 1, 16);
    memcpy(r + 33, k + 35, 2);
    memcpy(r + 35, k + 33, 2);
}

static void free_conn(Conn *c) {
    for (int d = 0; d < 2; d++) {
        if (c->dir[d].ctx) EVP_CIPHER_CTX_free(c->dir[d].ctx);
        PyMem_Free(c->dir[d].buf);
        Py_XDECREF(c->side[d].link);
    }
    Py_XDECREF(c->index);
    PyMem_Free(c);
}

/* -- AEAD --------------------------------------------------------------------------------- */

/* Open one application-data record (fragment f of n bytes, record version ver) of direction d
 * with sequence number seq into out.  Returns the plaintext length, or -1 if it does not
 * authenticate or is not application data (TLS 1.3 inner type): the Python path decides. */
static Py_ssize_t open_record(Dir *d, uint64_t seq, unsigned ver, const unsigned char *f,
                              Py_ssize_t n, unsigned char *out) {
    unsigned char nonce[12], aad[13];
    const unsigned char *ct;
    Py_ssize_t ctlen;
    int aadlen, len;
    if (d->mode == MODE_GCM12) {
        if (n < 8 + TAG_LEN) return -1;
        memcpy(nonce, d->iv, 4);
        memcpy(nonce + 4, f, 8);
        ct = f + 8;
        ctlen = n - 8 - TAG_LEN;
    } else {
        if (n < TAG_LEN + (d->mode == MODE_XOR13)) return -1;
        memcpy(nonce, d->iv, 12);
        for (int i = 0; i < 8; i++) nonce[4 + i] ^= (unsigned char)(seq >> (56 - 8 * i));
        ct = f;
        ctlen = n - TAG_LEN;
    }
    if (d->mode == MODE_XOR13) {
        aad[0] = 23;
        put16(aad + 1, ver);
        put16(aad + 3, (unsigned)n);
        aadlen = 5;
    } else {
        put64(aad, seq);
        aad[8] = 23;
        put16(aad + 9, ver);
        put16(aad + 11, (unsigned)ctlen);
        aadlen = 13;
    }
    EVP_CIPHER_CTX *ctx = d->ctx;
    if (EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1) return -1;
    if (EVP_DecryptUpdate(ctx, NULL, &len, aad, aadlen) != 1) return -1;
    if (EVP_DecryptUpdate(ctx, out, &len, ct, (int)ctlen) != 1) return -1;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, (void *)(ct + ctlen)) != 1)
        return -1;
    int fin = 0;
    if (EVP_DecryptFinal_ex(ctx, out + len, &fin) != 1) return -1;  /* the tag */
    Py_ssize_t plen = ctlen;
    if (d->mode == MODE_XOR13) {
        /* RFC 8446 §5.4: the content type is the last non-zero byte */
        while (plen > 0 && out[plen - 1] == 0) plen--;
        if (plen == 0 || out[plen - 1] != 23) return -1;
        plen--;
    }
    return plen;
}

/* -- output ------------------------------------------------------------------------------- */

/* The plaintext segment TCPFlow.segment(from_side, data, ACK | PSH) would build. */
static PyObject *segment(Conn *c, int s, const unsigned char *data, Py_ssize_t n) {
    Side *me = &c->side[s], *peer = &c->side[1 - s];
    Py_ssize_t ll = PyBytes_GET_SIZE(me->link);
    PyObject *pkt = PyBytes_FromStringAndSize(NULL, ll + me->iplen + 20 + n);
    if (!pkt) return NULL;
    unsigned char *p = (unsigned char *)PyBytes_AS_STRING(pkt);
    memcpy(p, PyBytes_AS_STRING(me->link), (size_t)ll);
    unsigned char *ip = p + ll, *tcp = ip + me->iplen;
    c->ident_delta++;  /* TCPFlow counts an ident for IPv6 segments too */
    memcpy(ip, me->ip, (size_t)me->iplen);
    uint64_t acc;
    if (me->iplen == 20) {
        put16(ip + 2, (unsigned)(40 + n));
        put16(ip + 4, (unsigned)((c->ident0 + c->ident_delta) & 0xFFFF));
        ip[10] = ip[11] = 0;
        put16(ip + 10, fold(sum16(ip, 20, 0)));
        acc = sum16(ip + 12, 8, 6 + (uint64_t)(20 + n));
    } else {
        put16(ip + 4, (unsigned)(20 + n));  /* RFC 8200 §3: payload length */
        acc = sum16(ip + 8, 32, 6 + (uint64_t)(20 + n));  /* RFC 8200 §8.1 pseudo-header */
    }
    memcpy(tcp, me->ports, 4);
    put32(tcp + 4, (uint32_t)(me->seq0 + me->delta));
    put32(tcp + 8, (uint32_t)(peer->seq0 + peer->delta));
    tcp[12] = 0x50;
    tcp[13] = 0x18;  /* ACK | PSH */
    tcp[14] = tcp[15] = 0xFF;
    tcp[16] = tcp[17] = tcp[18] = tcp[19] = 0;
    memcpy(tcp + 20, data, (size_t)n);
    /* RFC 9293 §3.1: the pseudo-header (addresses, protocol, TCP length), header and data */
    acc = sum16(tcp, (size_t)(20 + n), acc);
    put16(tcp + 16, fold(acc));
    me->delta += (uint64_t)n;
    return pkt;
}

/* -- Lane ---------------------------------------------------------------------------------- */

static void Lane_dealloc(Lane *self) {
    for (Py_ssize_t i = 0; i < self->cap; i++) {
        Slot *s = &self->slots[i];
        if (s->conn && s->dir == 0) free_conn(s->conn);
    }
    PyMem_Free(self->slots);
    PyMem_Free(self->join);
    PyMem_Free(self->plain);
    PyMem_Free(self->recs);
    Py_XDECREF(self->touch);
    Py_XDECREF(self->frags);
    Py_XDECREF(self->tls_conns);
    Py_XDECREF(self->tls_touch);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Lane_init(Lane *self, PyObject *args, PyObject *Py_UNUSED(kw)) {
    PyObject *touch, *frags, *tls_conns, *tls_touch;
    if (!PyArg_ParseTuple(args, "OO!O!O:Lane", &touch, &PyDict_Type, &frags, &PyDict_Type,
                          &tls_conns, &tls_touch))
        return -1;
    Py_XSETREF(self->touch, Py_NewRef(touch));
    Py_XSETREF(self->frags, Py_NewRef(frags));
    Py_XSETREF(self->tls_conns, Py_NewRef(tls_conns));
    Py_XSETREF(self->tls_touch, Py_NewRef(tls_touch));
    return 0;
}

static int parse_dir(PyObject *t, Dir *d) {
    int mode, cipher, out_side;
    const char *key, *iv, *buf;
    Py_ssize_t klen, ivlen, blen;
    unsigned long long seq;
    unsigned long next_seq;
    if (!PyArg_ParseTuple(t, "iiy#y#Kky#i:direction", &mode, &cipher, &key, &klen, &iv, &ivlen,
                          &seq, &next_seq, &buf, &blen, &out_side))
        return -1;
    const EVP_CIPHER *ev = cipher == CIPHER_AES128GCM ? EVP_aes_128_gcm()
                         : cipher == CIPHER_AES256GCM ? EVP_aes_256_gcm()
                         : cipher == CIPHER_CHACHA ? EVP_chacha20_poly1305() : NULL;
    if (!ev || mode < MODE_GCM12 || mode > MODE_XOR13 || klen != EVP_CIPHER_key_length(ev) ||
        ivlen != (mode == MODE_GCM12 ? 4 : 12) || (out_side != 0 && out_side != 1) ||
        blen > MAX_RECORD + 5) {
        PyErr_SetString(PyExc_ValueError, "fast lane: unsupported direction parameters");
        return -1;
    }
    d->mode = mode;
    memcpy(d->iv, iv, (size_t)ivlen);
    d->seq = seq;
    d->next_seq = (uint32_t)next_seq;
    d->out_side = out_side;
    d->ctx = EVP_CIPHER_CTX_new();
    if (!d->ctx || EVP_DecryptInit_ex(d->ctx, ev, NULL, (const unsigned char *)key, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(d->ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) != 1) {
        PyErr_SetString(PyExc_RuntimeError, "fast lane: OpenSSL cipher set-up failed");
        return -1;
    }
    if (blen) {
        if (grow(&d->buf, &d->buf_cap, blen) < 0) return -1;
        memcpy(d->buf, buf, (size_t)blen);
        d->buf_len = blen;
    }
    return 0;
}

static int parse_side(PyObject *t, Side *s) {
    PyObject *link;
    const char *ip, *ports;
    Py_ssize_t iplen, plen;
    unsigned long seq;
    if (!PyArg_ParseTuple(t, "O!y#y#k:side", &PyBytes_Type, &link, &ip, &iplen, &ports, &plen, &seq))
        return -1;
    if ((iplen != 20 && iplen != 40) || plen != 4) {
        PyErr_SetString(PyExc_ValueError, "fast lane: an IP header template and 4 port bytes");
        return -1;
    }
    s->link = Py_NewRef(link);
    memcpy(s->ip, ip, (size_t)iplen);
    s->iplen = (int)iplen;
    memcpy(s->ports, ports, 4);
    s->seq0 = (uint32_t)seq;
    return 0;
}

/* add(index, key, dir_from_tcp_client, dir_from_tcp_server, tls_client_side, tls_server_side,
 *     ident) */
static PyObject *Lane_add(Lane *self, PyObject *args) {
    PyObject *index, *d0, *d1, *s0, *s1;
    const char *key;
    Py_ssize_t klen;
    unsigned long ident;
    if (!PyArg_ParseTuple(args, "O!y#O!O!O!O!k:add", &PyLong_Type, &index, &key, &klen,
                          &PyTuple_Type, &d0, &PyTuple_Type, &d1, &PyTuple_Type, &s0,
                          &PyTuple_Type, &s1, &ident))
        return NULL;
    unsigned char rk[KEYLEN];
    if (klen != KEYLEN) {
        PyErr_SetString(PyExc_ValueError, "fast lane: a 37-byte connection key");
        return NULL;
    }
    reverse_key((const unsigned char *)key, rk);
    if (find(self, (const unsigned char *)key) || find(self, rk)) {
        PyErr_SetString(PyExc_ValueError, "fast lane: connection already checked out");
        return NULL;
    }
    Conn *c = PyMem_Calloc(1, sizeof(Conn));
    if (!c) return PyErr_NoMemory();
    if (parse_dir(d0, &c->dir[0]) < 0 || parse_dir(d1, &c->dir[1]) < 0 ||
        parse_side(s0, &c->side[0]) < 0 || parse_side(s1, &c->side[1]) < 0) {
        free_conn(c);
        return NULL;
    }
    c->index = Py_NewRef(index);
    memcpy(c->key, key, KEYLEN);
    c->ident0 = (uint16_t)(ident & 0xFFFF);
    if (insert(self, c->key, c, 0) < 0) { free_conn(c); return NULL; }
    if (insert(self, rk, c, 1) < 0) {
        erase(self, find(self, c->key));
        free_conn(c);
        return NULL;
    }
    self->nconns++;
    Py_RETURN_NONE;
}

/* remove(key) -> the state to check back in (see _fastlane.pyi), or None if not held */
static PyObject *Lane_remove(Lane *self, PyObject *arg) {
    if (!PyBytes_Check(arg) || PyBytes_GET_SIZE(arg) != KEYLEN) {
        PyErr_SetString(PyExc_TypeError, "remove(key): the key given to add()");
        return NULL;
    }
    Slot *s = find(self, (const unsigned char *)PyBytes_AS_STRING(arg));
    if (!s || s->dir != 0) Py_RETURN_NONE;
    Conn *c = s->conn;
    unsigned char rk[KEYLEN];
    reverse_key(c->key, rk);
    erase(self, s);
    erase(self, find(self, rk));
    self->nconns--;
    Dir *a = &c->dir[0], *b = &c->dir[1];
    PyObject *r = Py_BuildValue(
        "(KKKKy#y#KKKKKLL)", (unsigned long long)a->consumed, (unsigned long long)b->consumed,
        (unsigned long long)a->seq, (unsigned long long)b->seq, a->buf ? (const char *)a->buf : "", a->buf_len,
        b->buf ? (const char *)b->buf : "", b->buf_len, (unsigned long long)a->records,
        (unsigned long long)b->records, (unsigned long long)c->side[0].delta,
        (unsigned long long)c->side[1].delta, (unsigned long long)c->ident_delta, c->last_frame,
        c->last_ts);
    free_conn(c);
    return r;
}

/* process(data, frame_number, ts_ns) -> tuple of plaintext packets (handled), or None */
static PyObject *Lane_process(Lane *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "process(data, frame_number, ts_ns)");
        return NULL;
    }
    if (!self->nconns || !PyBytes_CheckExact(args[0]) || PyDict_GET_SIZE(self->frags))
        Py_RETURN_NONE;
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    Py_ssize_t n = PyBytes_GET_SIZE(args[0]);
    unsigned char key[KEYLEN];
    const unsigned char *tcp;
    unsigned tcplen;  /* the TCP segment's length (header and data) */
    if (n < 54) Py_RETURN_NONE;  /* Ethernet, IPv4 and TCP headers at least */
    if (p[12] == 0x08) {
        /* IPv4 without options, not a fragment (RFC 791 §3.1), carrying TCP */
        if (p[13] != 0x00 || p[14] != 0x45) Py_RETURN_NONE;
        unsigned tot = (unsigned)p[16] << 8 | p[17];
        if (tot < 40 || (Py_ssize_t)tot > n - 14 || (p[20] & 0x3F) || p[21] || p[23] != 6)
            Py_RETURN_NONE;
        tcp = p + 34;
        tcplen = tot - 20;
        memset(key, 0, KEYLEN);
        key[0] = 4;
        memcpy(key + 1, p + 26, 4);
        memcpy(key + 17, p + 30, 4);
    } else {
        /* IPv6 whose next header is TCP (no extension headers, RFC 8200 §4) */
        if (p[12] != 0x86 || p[13] != 0xDD || n < 74 || (p[14] >> 4) != 6 || p[20] != 6)
            Py_RETURN_NONE;
        tcplen = (unsigned)p[18] << 8 | p[19];
        if (tcplen < 20 || (Py_ssize_t)tcplen > n - 54) Py_RETURN_NONE;
        tcp = p + 54;
        key[0] = 6;
        memcpy(key + 1, p + 22, 32);
    }
    memcpy(key + 33, tcp, 4);
    unsigned doff = (unsigned)(tcp[12] >> 4) * 4;
    unsigned flags = tcp[13] & 0x3F;
    if (doff < 20 || doff > tcplen || (flags & 0x07)) Py_RETURN_NONE;  /* FIN, SYN, RST */
    Slot *slot = find(self, key);
    if (!slot) Py_RETURN_NONE;
    Conn *c = slot->conn;
    Dir *d = &c->dir[slot->dir];
    const unsigned char *payload = tcp + doff;
    Py_ssize_t plen = (Py_ssize_t)tcplen - doff;

    if (plen == 0) {  /* an ACK or window update: the TCP table only moves it to the end */
        PyObject *r = PyObject_CallOneArg(self->touch, c->index);
        if (!r) return NULL;
        Py_DECREF(r);
        self->frames++;
        return PyTuple_New(0);
    }
    if (be32(tcp + 4) != d->next_seq) Py_RETURN_NONE;

    /* the direction's bytes: a held record start, then this segment */
    const unsigned char *data = payload;
    Py_ssize_t dlen = plen;
    if (d->buf_len) {
        if (grow(&self->join, &self->join_cap, d->buf_len + plen) < 0) return NULL;
        memcpy(self->join, d->buf, (size_t)d->buf_len);
        memcpy(self->join + d->buf_len, payload, (size_t)plen);
        data = self->join;
        dlen = d->buf_len + plen;
    }
    /* every complete record: application data, within bounds, authentic */
    if (grow(&self->plain, &self->plain_cap, dlen) < 0) return NULL;
    Py_ssize_t pos = 0, nrec = 0, poff = 0;
    uint64_t seq = d->seq;
    while (dlen - pos >= 5) {
        const unsigned char *h = data + pos;
        Py_ssize_t len = (Py_ssize_t)h[3] << 8 | h[4];
        if (h[0] != 23 || len > MAX_RECORD) Py_RETURN_NONE;
        if (pos + 5 + len > dlen) break;
        if ((nrec + 1) * 2 * (Py_ssize_t)sizeof(Py_ssize_t) > self->recs_cap) {
            unsigned char *r = (unsigned char *)self->recs;
            if (grow(&r, &self->recs_cap, (nrec + 1) * 2 * (Py_ssize_t)sizeof(Py_ssize_t)) < 0)
                return NULL;
            self->recs = (Py_ssize_t *)r;
        }
        Py_ssize_t m = open_record(d, seq, (unsigned)h[1] << 8 | h[2], h + 5, len,
                                   self->plain + poff);
        if (m < 0) Py_RETURN_NONE;
        self->recs[2 * nrec] = poff;
        self->recs[2 * nrec + 1] = m;
        nrec++;
        poff += m;
        seq++;
        pos += 5 + len;
    }
    if (dlen - pos >= 1 && data[pos] != 23) Py_RETURN_NONE;  /* a held start that is not app data */
    Py_ssize_t segs = 0;
    for (Py_ssize_t i = 0; i < nrec; i++) segs += self->recs[2 * i + 1] > 0;
    long long frame = PyLong_AsLongLong(args[1]), ts = PyLong_AsLongLong(args[2]);
    if (PyErr_Occurred()) return NULL;
    PyObject *out = PyTuple_New(segs);
    if (!out) return NULL;
    /* from here on the frame is handled: commit */
    PyObject *r = PyObject_CallOneArg(self->touch, c->index);  /* TCPReassembler.feed's LRU */
    if (!r) { Py_DECREF(out); return NULL; }
    Py_DECREF(r);
    if (PyDict_GET_SIZE(self->tls_conns) > 1024) {  /* TLSTracker.feed moves it to the end */
        r = PyObject_CallOneArg(self->tls_touch, c->index);
        if (!r) { Py_DECREF(out); return NULL; }
        Py_DECREF(r);
    }
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 0; i < nrec; i++) {
        Py_ssize_t m = self->recs[2 * i + 1];
        if (!m) continue;
        PyObject *pkt = segment(c, d->out_side, self->plain + self->recs[2 * i], m);
        if (!pkt) { Py_DECREF(out); return NULL; }
        PyTuple_SET_ITEM(out, k++, pkt);
    }
    Py_ssize_t rest = dlen - pos;
    if (rest) {
        if (grow(&d->buf, &d->buf_cap, rest) < 0) { Py_DECREF(out); return NULL; }
        memmove(d->buf, data + pos, (size_t)rest);
    }
    d->buf_len = rest;
    d->seq = seq;
    d->records += (uint64_t)nrec;
    d->next_seq += (uint32_t)plen;
    d->consumed += (uint64_t)plen;
    c->last_frame = frame;
    c->last_ts = ts;
    self->frames++;
    return out;
}

static PyObject *Lane_get_frames(Lane *self, void *Py_UNUSED(closure)) {
    return PyLong_FromUnsignedLongLong(self->frames);
}

static PyObject *Lane_get_held(Lane *self, void *Py_UNUSED(closure)) {
    return PyLong_FromSsize_t(self->nconns);
}

static PyMethodDef Lane_methods[] = {
    {"add", (PyCFunction)Lane_add, METH_VARARGS, "Check a connection's steady state out."},
    {"remove", (PyCFunction)Lane_remove, METH_O, "Check a connection back in: its state."},
    {"process", (PyCFunction)(void (*)(void))Lane_process, METH_FASTCALL,
     "One frame: its plaintext packets if handled, else None (no state changed)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Lane_getset[] = {
    {"frames", (getter)Lane_get_frames, NULL, "Frames handled so far.", NULL},
    {"held", (getter)Lane_get_held, NULL, "Connections checked out now.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject LaneType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "netsec_layers.session._fastlane.Lane",
    .tp_basicsize = sizeof(Lane),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The steady state of checked-out TLS AEAD connections (see session/fastlane.py).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Lane_init,
    .tp_dealloc = (destructor)Lane_dealloc,
    .tp_methods = Lane_methods,
    .tp_getset = Lane_getset,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fastlane",
    "Native fast lane of netsec decrypt -w (issue #22).", -1, NULL,
};

PyMODINIT_FUNC PyInit__fastlane(void) {
    if (PyType_Ready(&LaneType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    if (PyModule_AddObjectRef(m, "Lane", (PyObject *)&LaneType) < 0 ||
        PyModule_AddIntConstant(m, "MODE_GCM12", MODE_GCM12) < 0 ||
        PyModule_AddIntConstant(m, "MODE_XOR12", MODE_XOR12) < 0 ||
        PyModule_AddIntConstant(m, "MODE_XOR13", MODE_XOR13) < 0 ||
        PyModule_AddIntConstant(m, "CIPHER_AES128GCM", CIPHER_AES128GCM) < 0 ||
        PyModule_AddIntConstant(m, "CIPHER_AES256GCM", CIPHER_AES256GCM) < 0 ||
        PyModule_AddIntConstant(m, "CIPHER_CHACHA", CIPHER_CHACHA) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
