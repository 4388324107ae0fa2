// Link emulator for the test lab: forwards every Ethernet frame between two interfaces (the
// two veth ends in a middle network namespace) through a per-direction model of a link:
// random loss, a rate-limited FIFO with a byte cap (tail drop), then a fixed one-way delay.
// It works on packets, below TCP and UDP, so each protocol meets the same loss, queueing and
// delay as on a real path. This kernel has no sch_netem, hence userspace.
//
// usage: link-emulator IF_A IF_B RATE_AB DELAY_US_AB LOSS_AB RATE_BA DELAY_US_BA LOSS_BA QUEUE_BYTES SEED
//   RATE in bit/s (0 = unlimited), LOSS a probability (0.005 = 0.5 %).
// Prints "ready" once both sockets are bound; on SIGTERM/SIGINT prints one line of counters.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SLOT_BYTES 2048
#define SLOTS 16384

struct slot {
  uint64_t due_ns;
  uint32_t len;
  unsigned char data[SLOT_BYTES];
};

struct direction {
  int in, out;
  double rate_bps;
  uint64_t delay_ns;
  double loss;
  uint64_t queue_bytes;
  uint64_t sent_until_ns; // when the link finishes serialising what it took so far
  struct slot *ring;
  uint32_t head, count;
  uint64_t forwarded, lost, tail_dropped, too_big, bytes;
  // How late packets left against their due time (the emulator's own wake-up lag).
  uint64_t late_ns_total, late_over_1ms;
};

static volatile sig_atomic_t stopping = 0;
static void on_signal(int sig) {
  (void)sig;
  stopping = 1;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rng_state;
static double uniform(void) { // xorshift64*: reproducible with a seed, good enough for loss
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (double)((rng_state * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static int open_packet_socket(const char *ifname) {
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
  if (fd < 0) return -1;
  int one = 1;
  // The virtio header carries "checksum still to do" (veth offloads it) through us intact.
  if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) < 0) return -1;
  setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
  int big = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big);
  struct sockaddr_ll addr = {0};
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(ETH_P_ALL);
  addr.sll_ifindex = (int)if_nametoindex(ifname);
  if (addr.sll_ifindex == 0) return -1;
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) return -1;
  return fd;
}

static void take(struct direction *d, uint64_t now) {
  for (;;) {
    struct slot *s = &d->ring[(d->head + d->count) % SLOTS];
    ssize_t n = recv(d->in, s->data, SLOT_BYTES, MSG_TRUNC);
    if (n < 0) return; // EAGAIN: all taken
    if (n > SLOT_BYTES) {
      d->too_big++; // a GSO super-packet: the lab turns segmentation offload off
      continue;
    }
    if (d->loss > 0 && uniform() < d->loss) {
      d->lost++;
      continue;
    }
    uint64_t wire = (uint64_t)n - sizeof(struct virtio_net_hdr);
    uint64_t start = d->sent_until_ns > now ? d->sent_until_ns : now;
    if (d->rate_bps > 0) {
      uint64_t backlog = (uint64_t)((double)(start - now) * d->rate_bps / 8e9);
      if (d->count >= SLOTS || backlog + wire > d->queue_bytes) {
        d->tail_dropped++;
        continue;
      }
      d->sent_until_ns = start + (uint64_t)((double)wire * 8e9 / d->rate_bps);
    } else if (d->count >= SLOTS) {
      d->tail_dropped++;
      continue;
    } else {
      d->sent_until_ns = start;
    }
    s->due_ns = d->sent_until_ns + d->delay_ns;
    s->len = (uint32_t)n;
    d->count++;
  }
}

/** Sends what is due; returns when the next packet is due (0: nothing waits). */
static uint64_t deliver(struct direction *d, uint64_t now) {
  while (d->count > 0) {
    struct slot *s = &d->ring[d->head];
    if (s->due_ns > now) return s->due_ns;
    ssize_t n = send(d->out, s->data, s->len, 0);
    if (n < 0 && (errno == EAGAIN || errno == ENOBUFS)) return now + 20000; // retry in 20 µs
    if (n >= 0) {
      uint64_t late = now - s->due_ns;
      d->late_ns_total += late;
      if (late > 1000000) d->late_over_1ms++;
      d->forwarded++;
      d->bytes += s->len - sizeof(struct virtio_net_hdr);
    }
    d->head = (d->head + 1) % SLOTS;
    d->count--;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 11) {
    fprintf(stderr, "usage: %s IF_A IF_B RATE_AB DELAY_US_AB LOSS_AB RATE_BA DELAY_US_BA LOSS_BA QUEUE_BYTES SEED\n", argv[0]);
    return 2;
  }
  int a = open_packet_socket(argv[1]);
  int b = open_packet_socket(argv[2]);
  if (a < 0 || b < 0) {
    perror("packet socket");
    return 1;
  }
  struct direction dirs[2] = {
      {.in = a, .out = b, .rate_bps = atof(argv[3]), .delay_ns = strtoull(argv[4], 0, 10) * 1000, .loss = atof(argv[5])},
      {.in = b, .out = a, .rate_bps = atof(argv[6]), .delay_ns = strtoull(argv[7], 0, 10) * 1000, .loss = atof(argv[8])},
  };
  for (int i = 0; i < 2; i++) {
    dirs[i].queue_bytes = strtoull(argv[9], 0, 10);
    dirs[i].ring = calloc(SLOTS, sizeof(struct slot));
    if (!dirs[i].ring) return 1;
  }
  rng_state = strtoull(argv[10], 0, 10) | 1;
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  printf("ready\n");
  fflush(stdout);
  struct pollfd fds[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
  uint64_t started = now_ns(), wakeups = 0;
  while (!stopping) {
    wakeups++;
    uint64_t now = now_ns();
    take(&dirs[0], now);
    take(&dirs[1], now);
    now = now_ns();
    uint64_t next = 0;
    for (int i = 0; i < 2; i++) {
      uint64_t due = deliver(&dirs[i], now);
      if (due != 0 && (next == 0 || due < next)) next = due;
    }
    struct timespec wait = {1, 0}; // nothing queued: sleep until a packet arrives
    if (next != 0) {
      uint64_t now2 = now_ns();
      uint64_t ns = next > now2 ? next - now2 : 0;
      wait.tv_sec = (time_t)(ns / 1000000000ull);
      wait.tv_nsec = (long)(ns % 1000000000ull);
    }
    if (ppoll(fds, 2, &wait, NULL) < 0 && errno != EINTR) {
      perror("ppoll");
      return 1;
    }
  }
  for (int i = 0; i < 2; i++) {
    struct direction *d = &dirs[i];
    printf("%s forwarded=%llu bytes=%llu lost=%llu tail_dropped=%llu too_big=%llu late_us_mean=%llu late_over_1ms=%llu\n",
           i == 0 ? "ab" : "ba", (unsigned long long)d->forwarded, (unsigned long long)d->bytes,
           (unsigned long long)d->lost, (unsigned long long)d->tail_dropped, (unsigned long long)d->too_big,
           (unsigned long long)(d->forwarded ? d->late_ns_total / d->forwarded / 1000 : 0),
           (unsigned long long)d->late_over_1ms);
  }
  // The emulator's own cost: if it ran near a whole core, the link it models was slower than set.
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  uint64_t cpu_us = (uint64_t)ru.ru_utime.tv_sec * 1000000ull + (uint64_t)ru.ru_utime.tv_usec +
                    (uint64_t)ru.ru_stime.tv_sec * 1000000ull + (uint64_t)ru.ru_stime.tv_usec;
  printf("cpu cpu_ms=%llu wall_ms=%llu wakeups=%llu\n", (unsigned long long)(cpu_us / 1000),
         (unsigned long long)((now_ns() - started) / 1000000ull), (unsigned long long)wakeups);
  fflush(stdout);
  return 0;
}
