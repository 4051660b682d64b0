/*
 * smload.c - a closed-loop socketmap load generator for the benchmarks.
 *
 *   smload -t ADDR:PORT | -u PATH  -c CONNECTIONS  -n REQUESTS | -d SECONDS
 *          [-m MAPNAME] [-p] [-k KEYFILE | KEY...]
 *
 * Each connection sends one request, waits for its reply, and sends the
 * next (closed loop, as Postfix's client does). Keys are taken round
 * robin from the command line or from KEYFILE (one per line). Prints one
 * line: requests, errors, seconds, requests per second, p50/p90/p99/max
 * latency in microseconds, and the replies by kind (OK/NOTFOUND/TEMP/
 * other). Bounded: stops after -n requests or -d seconds, whichever
 * comes first (default 10 s), and fails a connection that gets no reply
 * in 30 s; SIGINT or SIGTERM stops it early, with the results so far.
 * -p prints the first reply's payload to stderr (a sanity check
 * that the daemon answers what it should).
 *
 * Single-threaded on poll(2) so the load generator itself stays cheap; a
 * connection's next request is written as soon as its reply is complete
 * (one poll(2) per request).
 */
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_REPLY 100000

/* SIGINT/SIGTERM: stop and report what was measured so far. */
static volatile sig_atomic_t stop_now;

static void on_signal(int sig) {
  (void)sig;
  stop_now = 1;
}

struct conn {
  int fd;
  char out[2048];
  size_t outlen, outoff;
  char in[MAX_REPLY + 16];
  size_t inlen;
  uint64_t started_ns;
};

static uint64_t now_ns(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

  return x < y ? -1 : x > y;
}

static int connect_to(const char *tcp, const char *unixpath) {
  int fd;

  if (unixpath != NULL) {
    struct sockaddr_un sun;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(unixpath) >= sizeof(sun.sun_path)) {
      return -1;
    }
    memcpy(sun.sun_path, unixpath, strlen(unixpath) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
      if (fd >= 0) {
        close(fd);
      }
      return -1;
    }
  } else {
    struct sockaddr_in sin;
    char host[64];
    const char *colon = strrchr(tcp, ':');
    size_t hl;
    int one = 1;

    if (colon == NULL || (hl = (size_t)(colon - tcp)) >= sizeof(host)) {
      return -1;
    }
    memcpy(host, tcp, hl);
    host[hl] = '\0';
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)strtoul(colon + 1, NULL, 10));
    if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
      return -1;
    }
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
      if (fd >= 0) {
        close(fd);
      }
      return -1;
    }
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

/* A complete netstring at the start of in? \return its total length. */
static size_t netstring_complete(const char *in, size_t len, size_t *plen,
                                 size_t *poff) {
  size_t i, n = 0;

  for (i = 0; i < len && i < 7; i++) {
    if (in[i] == ':') {
      break;
    }
    if (in[i] < '0' || in[i] > '9') {
      return (size_t)-1;
    }
    n = n * 10 + (size_t)(in[i] - '0');
  }
  if (i == len || in[i] != ':') {
    return i >= 7 ? (size_t)-1 : 0;
  }
  if (len < i + 1 + n + 1) {
    return 0;
  }
  if (in[i + 1 + n] != ',') {
    return (size_t)-1;
  }
  *plen = n;
  *poff = i + 1;
  return i + 2 + n;
}

/* Queue the next request on \p k (key \p key) and try to write it at once:
 * a small request nearly always goes out whole, so the next poll() waits
 * for its reply instead of first for POLLOUT (one poll() per request, not
 * two: the generator's own CPU is a bound of the cached figures). \return
 * 0, or -1 when the request does not fit or the write failed. */
static int start_request(struct conn *k, const char *map, const char *key,
                         uint64_t now) {
  int n = snprintf(k->out + 8, sizeof(k->out) - 8, "%s %s", map, key);
  int h;
  char hdr[8];
  ssize_t w;

  if (n < 0 || (size_t)n >= sizeof(k->out) - 8) {
    return -1;
  }
  h = snprintf(hdr, sizeof(hdr), "%d:", n);
  memmove(k->out + h, k->out + 8, (size_t)n);
  memcpy(k->out, hdr, (size_t)h);
  k->out[h + n] = ',';
  k->outlen = (size_t)(h + n + 1);
  k->outoff = 0;
  k->started_ns = now;
  w = write(k->fd, k->out, k->outlen);
  if (w > 0) {
    k->outoff = (size_t)w;
  } else if (w < 0 && errno != EAGAIN) {
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  const char *tcp = NULL, *unixpath = NULL, *map = "postfix", *keyfile = NULL;
  unsigned long nconn = 1, maxreq = 0;
  double seconds = 10;
  char **keys = NULL;
  size_t nkeys = 0, keycap = 0, next_key = 0;
  uint64_t *lat;
  unsigned long done = 0, errors = 0, sent = 0;
  unsigned long kinds[4] = {0};
  struct conn *c;
  struct pollfd *pfd;
  uint64_t t0, deadline;
  int opt, print_first = 0;
  unsigned long i;

  while ((opt = getopt(argc, argv, "t:u:c:n:d:m:k:p")) != -1) {
    switch (opt) {
    case 't': tcp = optarg; break;
    case 'u': unixpath = optarg; break;
    case 'c': nconn = strtoul(optarg, NULL, 10); break;
    case 'n': maxreq = strtoul(optarg, NULL, 10); break;
    case 'd': seconds = strtod(optarg, NULL); break;
    case 'm': map = optarg; break;
    case 'k': keyfile = optarg; break;
    case 'p': print_first = 1; break;
    default:
      fprintf(stderr, "usage: smload -t HOST:PORT|-u PATH -c N -n N|-d S "
                      "[-m MAP] [-p] [-k FILE | KEY...]\n");
      return 64;
    }
  }
  if ((tcp == NULL) == (unixpath == NULL) || nconn == 0 || nconn > 20000 ||
      seconds <= 0 || seconds > 3600) {
    fprintf(stderr, "smload: give one of -t/-u, 1..20000 connections, 0<d<=3600\n");
    return 64;
  }
  if (keyfile != NULL) {
    FILE *f = fopen(keyfile, "r");
    char line[512];

    if (f == NULL) {
      perror(keyfile);
      return 66;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
      line[strcspn(line, "\r\n")] = '\0';
      if (line[0] == '\0') {
        continue;
      }
      if (nkeys == keycap) {
        keycap = keycap ? keycap * 2 : 1024;
        keys = realloc(keys, keycap * sizeof(*keys));
        if (keys == NULL) {
          return 70;
        }
      }
      keys[nkeys++] = strdup(line);
    }
    fclose(f);
  } else {
    keys = argv + optind;
    nkeys = (size_t)(argc - optind);
  }
  if (nkeys == 0) {
    fprintf(stderr, "smload: no keys\n");
    return 64;
  }
  /* Latencies: at most maxreq, or a generous bound for timed runs. */
  {
    size_t cap = maxreq ? maxreq + nconn : 50000000u;

    lat = malloc(cap * sizeof(*lat));
    if (lat == NULL) {
      return 70;
    }
    if (maxreq == 0) {
      maxreq = (unsigned long)cap - nconn;
    }
  }
  c = calloc(nconn, sizeof(*c));
  pfd = calloc(nconn, sizeof(*pfd));
  if (c == NULL || pfd == NULL) {
    return 70;
  }
  for (i = 0; i < nconn; i++) {
    c[i].fd = connect_to(tcp, unixpath);
    if (c[i].fd < 0) {
      fprintf(stderr, "smload: connect %lu: %s\n", i, strerror(errno));
      return 69;
    }
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  t0 = now_ns();
  deadline = t0 + (uint64_t)(seconds * 1e9);
  for (;;) {
    unsigned long active = 0;
    uint64_t now = now_ns();
    int r;

    for (i = 0; i < nconn; i++) {
      struct conn *k = &c[i];

      if (k->fd < 0) {
        pfd[i].fd = -1;
        continue;
      }
      if (k->outlen == 0 && k->inlen == 0 && k->started_ns == 0) {
        /* idle: start the next request if the budget allows */
        if (sent < maxreq && now < deadline) {
          if (start_request(k, map, keys[next_key++ % nkeys], now) != 0) {
            errors++;
            close(k->fd);
            k->fd = -1;
            pfd[i].fd = -1;
            continue;
          }
          sent++;
        }
      }
      if (k->started_ns != 0) {
        active++;
        if (now - k->started_ns > 30000000000ull) {
          errors++;
          close(k->fd);
          k->fd = -1;
          pfd[i].fd = -1;
          continue;
        }
      }
      pfd[i].fd = k->fd;
      pfd[i].events = (short)(k->outoff < k->outlen ? POLLOUT : POLLIN);
      pfd[i].revents = 0;
    }
    if (active == 0 || stop_now) {
      break;
    }
    r = poll(pfd, nconn, 100);
    if (r < 0 && errno != EINTR) {
      perror("poll");
      return 70;
    }
    for (i = 0; r > 0 && i < nconn; i++) {
      struct conn *k = &c[i];
      ssize_t n;

      if (pfd[i].fd < 0 || pfd[i].revents == 0) {
        continue;
      }
      if (k->outoff < k->outlen) {
        n = write(k->fd, k->out + k->outoff, k->outlen - k->outoff);
        if (n > 0) {
          k->outoff += (size_t)n;
        } else if (n < 0 && errno != EAGAIN) {
          errors++;
          close(k->fd);
          k->fd = -1;
        }
        continue;
      }
      n = read(k->fd, k->in + k->inlen, sizeof(k->in) - k->inlen);
      if (n <= 0) {
        if (n < 0 && errno == EAGAIN) {
          continue;
        }
        errors++;
        close(k->fd);
        k->fd = -1;
        continue;
      }
      k->inlen += (size_t)n;
      {
        size_t plen = 0, poff = 0;
        size_t tot = netstring_complete(k->in, k->inlen, &plen, &poff);

        if (tot == (size_t)-1) {
          errors++;
          close(k->fd);
          k->fd = -1;
          continue;
        }
        if (tot == 0) {
          continue;
        }
        lat[done++] = now_ns() - k->started_ns;
        if (print_first) {
          fprintf(stderr, "reply: %.*s\n", (int)plen, k->in + poff);
          print_first = 0;
        }
        if (plen >= 3 && memcmp(k->in + poff, "OK ", 3) == 0) {
          kinds[0]++;
        } else if (plen >= 8 && memcmp(k->in + poff, "NOTFOUND", 8) == 0) {
          kinds[1]++;
        } else if (plen >= 4 && memcmp(k->in + poff, "TEMP", 4) == 0) {
          kinds[2]++;
        } else {
          kinds[3]++;
        }
        memmove(k->in, k->in + tot, k->inlen - tot);
        k->inlen -= tot;
        k->outlen = k->outoff = 0;
        k->started_ns = 0;
        if (k->inlen == 0 && sent < maxreq && !stop_now) {
          uint64_t t = now_ns();

          if (t < deadline) {
            if (start_request(k, map, keys[next_key++ % nkeys], t) != 0) {
              errors++;
              close(k->fd);
              k->fd = -1;
              continue;
            }
            sent++;
          }
        }
      }
    }
  }
  {
    double secs = (double)(now_ns() - t0) / 1e9;
    struct rusage ru;
    double gen_cpu = 0;

    /* The load generator's own CPU: on a small machine it competes with
     * the daemon and the test world, so the table accounts for it. */
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
      gen_cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    }
    qsort(lat, done, sizeof(*lat), cmp_u64);
#define PCT(p) (done ? lat[(size_t)((double)(done - 1) * (p))] / 1000 : 0)
    printf("requests=%lu errors=%lu seconds=%.3f rps=%.0f p50_us=%llu "
           "p90_us=%llu p99_us=%llu max_us=%llu ok=%lu notfound=%lu temp=%lu "
           "other=%lu gen_cpu_s=%.2f\n",
           done, errors, secs, done / secs, (unsigned long long)PCT(0.50),
           (unsigned long long)PCT(0.90), (unsigned long long)PCT(0.99),
           (unsigned long long)(done ? lat[done - 1] / 1000 : 0), kinds[0],
           kinds[1], kinds[2], kinds[3], gen_cpu);
  }
  return errors == 0 ? 0 : 1;
}
