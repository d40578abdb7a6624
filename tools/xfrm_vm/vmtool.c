/* vmtool: the guest's tiny packet helper for tools/xfrm_vm.py (built with gcc -static).
 *
 *   vmtool send SRC DST DPORT SPORT HEX...   one UDP datagram per HEX payload, 20 ms apart
 *   vmtool sendhbh ...                        the same over IPv6 with a hop-by-hop header holding
 *                                             a mutable option (type 0x3e, RFC 4727 experimental,
 *                                             "may change en route" bit set, data de ad be ef)
 *   vmtool sink PORT OUTFILE SECONDS          dual-stack UDP listener: "<src> <hex>" per datagram
 *   vmtool natt PORT SECONDS                  hold a UDP socket with UDP_ENCAP_ESPINUDP (RFC 3948)
 *   vmtool inject IFACE PCAP [USEC]           write each Ethernet frame of a pcap to AF_PACKET
 *
 * busybox nc -u has no way to send exact bytes from a fixed source port or to log several
 * datagrams, and busybox has no tcpreplay; this does exactly that and nothing more.
 */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <linux/udp.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#ifndef UDP_ENCAP
#define UDP_ENCAP 100
#endif
#ifndef UDP_ENCAP_ESPINUDP
#define UDP_ENCAP_ESPINUDP 2
#endif

static void die(const char *what) { perror(what); exit(2); }

static int unhex(const char *h, unsigned char *out, size_t cap) {
    size_t n = strlen(h) / 2;
    if (n > cap) return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(h + 2 * i, "%2x", &v) != 1) return -1;
        out[i] = (unsigned char)v;
    }
    return (int)n;
}

static int fill_addr(const char *a, int port, struct sockaddr_storage *ss, socklen_t *len) {
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, a, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET; s4->sin_port = htons(port); *len = sizeof *s4; return AF_INET;
    }
    if (inet_pton(AF_INET6, a, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6; s6->sin6_port = htons(port); *len = sizeof *s6; return AF_INET6;
    }
    fprintf(stderr, "bad address %s\n", a); exit(2);
}

static int do_send(int argc, char **argv) {
    struct sockaddr_storage src, dst; socklen_t sl, dl;
    int fam = fill_addr(argv[2], atoi(argv[5]), &src, &sl);
    fill_addr(argv[3], atoi(argv[4]), &dst, &dl);
    int fd = socket(fam, SOCK_DGRAM, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&src, sl) < 0) die("bind");
    if (!strcmp(argv[1], "sendhbh")) {
        /* next header and length are filled in by the kernel; 2 + 6 bytes = one 8-byte unit */
        unsigned char hbh[8] = {0, 0, 0x3e, 4, 0xde, 0xad, 0xbe, 0xef};
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_HOPOPTS, hbh, sizeof hbh) < 0) die("IPV6_HOPOPTS");
    }
    static unsigned char buf[65536];
    for (int i = 6; i < argc; i++) {
        int n = unhex(argv[i], buf, sizeof buf);
        if (n < 0) { fprintf(stderr, "bad hex\n"); return 2; }
        if (sendto(fd, buf, n, 0, (struct sockaddr *)&dst, dl) != n) die("sendto");
        usleep(20000);
    }
    return 0;
}

static int do_sink(char **argv) {
    int fd = socket(AF_INET6, SOCK_DGRAM, 0);
    if (fd < 0) die("socket");
    int zero = 0, one = 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in6 a; memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6; a.sin6_port = htons(atoi(argv[2])); a.sin6_addr = in6addr_any;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
    FILE *out = fopen(argv[3], "w");
    if (!out) die("fopen");
    time_t end = time(NULL) + atoi(argv[4]);
    struct timeval tv = {0, 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    static unsigned char buf[65536];
    while (time(NULL) < end) {
        struct sockaddr_in6 from; socklen_t fl = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
        if (n < 0) continue;
        char name[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, &from.sin6_addr, name, sizeof name);
        fprintf(out, "%s ", name);
        for (ssize_t i = 0; i < n; i++) fprintf(out, "%02x", buf[i]);
        fprintf(out, "\n");
        fflush(out);
    }
    return 0;
}

static int do_natt(char **argv) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) die("socket");
    struct sockaddr_in a; memset(&a, 0, sizeof a);
    a.sin_family = AF_INET; a.sin_port = htons(atoi(argv[2]));
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
    int type = UDP_ENCAP_ESPINUDP;
    if (setsockopt(fd, IPPROTO_UDP, UDP_ENCAP, &type, sizeof type) < 0) die("UDP_ENCAP");
    sleep(atoi(argv[3]));
    return 0;
}

static int do_inject(int argc, char **argv) {
    int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    if (fd < 0) die("socket");
    struct sockaddr_ll ll; memset(&ll, 0, sizeof ll);
    ll.sll_family = AF_PACKET; ll.sll_ifindex = if_nametoindex(argv[2]);
    if (!ll.sll_ifindex) die("if_nametoindex");
    FILE *f = fopen(argv[3], "rb");
    if (!f) die("fopen");
    int usec = argc > 4 ? atoi(argv[4]) : 20000;
    unsigned char gh[24], rh[16];
    static unsigned char buf[262144];
    if (fread(gh, 1, 24, f) != 24) { fprintf(stderr, "short pcap\n"); return 2; }
    uint32_t magic; memcpy(&magic, gh, 4);
    if (magic != 0xa1b2c3d4 && magic != 0xa1b23c4d) { fprintf(stderr, "need little-endian pcap\n"); return 2; }
    uint32_t lt; memcpy(&lt, gh + 20, 4);
    if (lt != 1) { fprintf(stderr, "need Ethernet pcap\n"); return 2; }
    int count = 0;
    while (fread(rh, 1, 16, f) == 16) {
        uint32_t caplen; memcpy(&caplen, rh + 8, 4);
        if (caplen > sizeof buf || fread(buf, 1, caplen, f) != caplen) break;
        if (sendto(fd, buf, caplen, 0, (struct sockaddr *)&ll, sizeof ll) != (ssize_t)caplen) die("sendto");
        count++;
        usleep(usec);
    }
    printf("injected %d\n", count);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 7 && (!strcmp(argv[1], "send") || !strcmp(argv[1], "sendhbh")))
        return do_send(argc, argv);
    if (argc == 5 && !strcmp(argv[1], "sink")) return do_sink(argv);
    if (argc == 4 && !strcmp(argv[1], "natt")) return do_natt(argv);
    if (argc >= 4 && !strcmp(argv[1], "inject")) return do_inject(argc, argv);
    fprintf(stderr, "usage: vmtool send|sendhbh|sink|natt|inject ... (see source)\n");
    return 2;
}
