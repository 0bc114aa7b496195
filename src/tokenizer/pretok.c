/* GPT-2's pre-tokenizer by hand, without a regex engine.
 *
 * The pattern (GPT-2's encoder.py, also tiktoken's "gpt2"):
 *     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * is applied as a scanner: at each position the first alternative that matches wins (a regex
 * alternation is ordered, not longest-match), its match is the piece, and scanning resumes
 * after it. fg_tok_piece_end_ref reads the alternatives one by one, backtracking as the regex
 * does; fg_tok_piece_end is the same decision as one forward scan with an ASCII fast path. The
 * one subtle case is \s+(?!\S): a run of k whitespace characters followed by a non-space gives
 * back its last character (so " word" keeps its space), unless k == 1, when \s+ takes it.
 * Each byte is looked at a bounded number of times, so splitting is linear in the input.
 */
#include <assert.h>
#include <string.h>

#include "tokenizer_int.h"

/* Classes of the ASCII characters: \t \n \v \f \r and space are whitespace. */
static const uint8_t ascii_class[128] = {
    /* 0x00 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 3, 3, 3, 3, 0, 0,
    /* 0x10 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0x20 */ 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0x30 */ 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0,
    /* 0x40 */ 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x50 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
    /* 0x60 */ 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x70 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
};

/* Class and length of the character at s[i] (i < n), ASCII first. */
static inline int char_at(const uint8_t *s, size_t n, size_t i, size_t *len)
{
    if (s[i] < 0x80) {
        *len = 1;
        return ascii_class[s[i]];
    }
    return fg_tok_char(s + i, n - i, len);
}

/* End of the run of characters of class cls that starts at i. */
static inline size_t run_end(const uint8_t *s, size_t n, size_t i, int cls)
{
    while (i < n) {
        if (s[i] < 0x80) {
            if (ascii_class[s[i]] != cls)
                break;
            i++;
        } else {
            size_t l;
            if (fg_tok_char(s + i, n - i, &l) != cls)
                break;
            i += l;
        }
    }
    return i;
}

/* Length of a contraction 's 't 're 've 'm 'll 'd at s[i] == '\'', or 0. */
static inline size_t contraction(const uint8_t *s, size_t n, size_t i)
{
    if (i + 1 >= n)
        return 0;
    uint8_t c = s[i + 1];
    if (c == 's' || c == 't' || c == 'm' || c == 'd')
        return 2;
    if (i + 2 < n) {
        uint8_t c2 = s[i + 2];
        if ((c == 'r' && c2 == 'e') || (c == 'v' && c2 == 'e') || (c == 'l' && c2 == 'l'))
            return 3;
    }
    return 0;
}

size_t fg_tok_piece_end(const uint8_t *s, size_t n, size_t i)
{
    assert(i < n);
    size_t len;
    int cls = char_at(s, n, i, &len);
    if (s[i] == '\'') {
        size_t c = contraction(s, n, i);
        if (c)
            return i + c;
    } else if (s[i] == ' ' && i + 1 < n) {
        /* " ?X+": a space joins the run of letters, numbers or others right after it */
        size_t l1;
        int c1 = char_at(s, n, i + 1, &l1);
        if (c1 != FG_TOK_SPACE)
            return run_end(s, n, i + 1 + l1, c1);
    }
    if (cls != FG_TOK_SPACE)
        return run_end(s, n, i + len, cls);
    /* A whitespace run: \s+(?!\S) takes all but its last character when a non-space follows
     * and the run has two or more characters; otherwise \s+ or the lookahead takes it all. */
    size_t last = i, j = i + len, count = 1;
    while (j < n) {
        size_t l;
        if (char_at(s, n, j, &l) != FG_TOK_SPACE)
            break;
        last = j;
        j += l;
        count++;
    }
    if (j == n || count == 1)
        return j;
    return last;
}

/* ---- the reference: the regular expression read literally ------------------------------------ */

/* Class of the character at i, or -1 at the end of the input. */
static int class_at_ref(const uint8_t *s, size_t n, size_t i, size_t *len)
{
    if (i >= n) {
        *len = 0;
        return -1;
    }
    return fg_tok_char(s + i, n - i, len);
}

/* ` ?C+` at i: the end of the match, or 0 if none (a match is never empty). The optional
 * space is greedy: try with it, then backtrack to without it. */
static size_t opt_space_run_ref(const uint8_t *s, size_t n, size_t i, int cls)
{
    size_t starts[2], n_starts = 0, len;
    if (s[i] == ' ')
        starts[n_starts++] = i + 1;
    starts[n_starts++] = i;
    for (size_t k = 0; k < n_starts; k++) {
        size_t j = starts[k];
        while (class_at_ref(s, n, j, &len) == cls)
            j += len;
        if (j > starts[k])
            return j;
    }
    return 0;
}

size_t fg_tok_piece_end_ref(const uint8_t *s, size_t n, size_t i)
{
    assert(i < n);
    /* 's|'t|'re|'ve|'m|'ll|'d */
    static const char *const contractions[] = { "'s", "'t", "'re", "'ve", "'m", "'ll", "'d" };
    for (size_t k = 0; k < sizeof contractions / sizeof contractions[0]; k++) {
        size_t l = strlen(contractions[k]);
        if (n - i >= l && memcmp(s + i, contractions[k], l) == 0)
            return i + l;
    }
    /*  ?\p{L}+ |  ?\p{N}+ |  ?[^\s\p{L}\p{N}]+ */
    static const int classes[] = { FG_TOK_LETTER, FG_TOK_NUMBER, FG_TOK_OTHER };
    for (size_t k = 0; k < 3; k++) {
        size_t e = opt_space_run_ref(s, n, i, classes[k]);
        if (e)
            return e;
    }
    /* \s+(?!\S): collect the ends of 1, 2, ... whitespace characters, then backtrack from the
     * longest until the lookahead (no non-space next; the end of input counts) holds. */
    size_t ends_n = 0, j = i, len;
    size_t prev_end = 0, last_end = 0;
    while (class_at_ref(s, n, j, &len) == FG_TOK_SPACE) {
        j += len;
        prev_end = last_end;
        last_end = j;
        ends_n++;
    }
    if (ends_n > 0) {
        int next = class_at_ref(s, n, last_end, &len);
        if (next == -1)
            return last_end; /* the whole run: the input ends after it */
        if (ends_n >= 2)
            return prev_end; /* one step back: the next character is the run's last space */
        /* \s+ */
        return last_end;
    }
    /* every character is in exactly one class, so one alternative always matched */
    assert(0 && "unreachable: no alternative matched");
    return i + 1;
}
