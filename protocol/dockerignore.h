/*
 * dockerignore.h - .dockerignore patterns (pure): the reference's rules
 * (Go filepath.Match plus "**", "!" exceptions where the last match wins,
 * leading/trailing slashes and "." cleaned, comments with '#').
 */
#ifndef HEARTH_DOCKERIGNORE_H
#define HEARTH_DOCKERIGNORE_H

#include <stddef.h>

#define DFIGN_MAX_TEXT (256 * 1024)
#define DFIGN_MAX_PATTERNS 4096

struct dfignore;

/* Parse .dockerignore text (len 0 / NULL: nothing ignored). NULL on a bad
 * pattern or past the bounds, with err. */
struct dfignore *dfignore_parse(const char *text, size_t len, char *err, size_t errlen);
/* Is the context-relative path ("a/b/c", no leading "./" or "/") excluded? */
int dfignore_match(const struct dfignore *ig, const char *relpath);
/* Could anything under the directory relpath be re-included by a "!" rule
 * (so a walker must descend into an excluded directory)? */
int dfignore_may_reinclude(const struct dfignore *ig, const char *reldir);
void dfignore_free(struct dfignore *ig);

/* Go's filepath.Match on one path with "**" matching any number of
 * segments; 1 match, 0 no, -1 bad pattern. Also used for COPY sources. */
int dfignore_glob(const char *pattern, const char *path);

#endif
