#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv)
{
    qsort(argv + 1, (size_t)argc - 1, sizeof *argv, cmp);
    for (int i = 1; i < argc; i++)
        puts(argv[i]);
    return 0;
}
