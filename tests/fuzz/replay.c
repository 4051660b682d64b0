/*
 * replay.c - run a fuzz target over every file of a corpus directory
 * without libFuzzer, so `make check` replays the committed corpora on
 * every build. Each input is copied into an allocation of exactly its
 * size, so ASan catches a read one past the end (c-ares ares-fuzz.c).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  struct stat st;
  uint8_t *buf;
  size_t n;

  if (f == NULL || fstat(fileno(f), &st) != 0) {
    fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
    if (f != NULL) {
      fclose(f);
    }
    return -1;
  }
  n = (size_t)st.st_size;
  /* Exact size, also for an empty input: like libFuzzer, hand over a
   * valid pointer to zero bytes (malloc(0); ASan flags any read of it). */
  buf = malloc(n);
  if (n > 0 && (buf == NULL || fread(buf, 1, n, f) != n)) {
    fprintf(stderr, "replay: %s: read failed\n", path);
    free(buf);
    fclose(f);
    return -1;
  }
  fclose(f);
  (void)LLVMFuzzerTestOneInput(buf, n);
  free(buf);
  return 0;
}

int main(int argc, char **argv) {
  unsigned long count = 0;
  int i;

  for (i = 1; i < argc; i++) {
    DIR *d = opendir(argv[i]);
    struct dirent *e;

    if (d == NULL) {
      if (run_file(argv[i]) != 0) {
        return 1;
      }
      count++;
      continue;
    }
    while ((e = readdir(d)) != NULL) {
      char path[4096];

      if (e->d_name[0] == '.') {
        continue;
      }
      if ((size_t)snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name) >=
          sizeof(path)) {
        continue;
      }
      if (run_file(path) != 0) {
        closedir(d);
        return 1;
      }
      count++;
    }
    closedir(d);
  }
  if (count == 0) {
    fprintf(stderr, "replay: no corpus inputs found\n");
    return 1;
  }
  printf("replayed %lu inputs\n", count);
  return 0;
}
