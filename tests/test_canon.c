/* Canonical record tests: every field order of a 4-field record gives the same canonical form
 * for each kind; white space variants collapse; a changed value changes the form; JSON nesting,
 * escapes and surrogates; a Debian stanza with continuation lines against its index-order
 * twin; CSV quoting and escaping of separators; the keyed duplicate rule; malformed input; the
 * canonical JSON of random records is a fixed point; allocation failures leak nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/canon.h"
#include "frugal/core.h"
#include "test.h"

#define OUT_CAP 8192

/* Canonical form of s (NUL-terminated into out); returns the status. */
static fg_status canon(enum fg_canon_kind kind, const char *s, const char *hdr, char *out)
{
    struct fg_canon_params p = fg_canon_params_default();
    p.csv_header = hdr;
    p.csv_header_len = hdr ? strlen(hdr) : 0;
    size_t n = 0;
    char err[256] = "";
    fg_status st = fg_canon_record(kind, s, strlen(s), &p, out, OUT_CAP - 1, &n, err, sizeof err);
    out[st == FG_OK ? n : 0] = '\0';
    return st;
}

static int same(enum fg_canon_kind kind, const char *a, const char *ha, const char *b,
                const char *hb)
{
    static char x[OUT_CAP], y[OUT_CAP];
    return canon(kind, a, ha, x) == FG_OK && canon(kind, b, hb, y) == FG_OK && strcmp(x, y) == 0;
}

/* all 24 orders of 4 items: perm[p][i] for p < 24 */
static void perms4(int perm[24][4])
{
    int n = 0;
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++)
            for (int c = 0; c < 4; c++)
                for (int d = 0; d < 4; d++)
                    if (a != b && a != c && a != d && b != c && b != d && c != d) {
                        perm[n][0] = a, perm[n][1] = b, perm[n][2] = c, perm[n][3] = d;
                        n++;
                    }
}

TEST(permutations_json)
{
    const char *mem[4] = { "\"Package\": \"zlib1g\"", "\"Version\":\"1:1.2.13\"",
                           "\"Depends\" : [\"libc6\", {\"v\": 2, \"n\": \"x\"}]", "\"Size\": 90" };
    int perm[24][4];
    perms4(perm);
    char first[OUT_CAP], s[1024], out[OUT_CAP];
    for (int p = 0; p < 24; p++) {
        snprintf(s, sizeof s, "{%s,%s,%s,%s}", mem[perm[p][0]], mem[perm[p][1]], mem[perm[p][2]],
                 mem[perm[p][3]]);
        CHECK_OK(t, canon(FG_CANON_JSON, s, NULL, p ? out : first));
        CHECK(t, p == 0 || strcmp(out, first) == 0);
    }
    CHECK(t, strcmp(first, "{\"Depends\":[\"libc6\",{\"n\":\"x\",\"v\":2}],\"Package\":\"zlib1g\","
                           "\"Size\":90,\"Version\":\"1:1.2.13\"}") == 0);
}

TEST(permutations_stanza)
{
    const char *lines[4] = { "Package: zlib1g\n", "version:   1:1.2.13\n",
                             "Description: compression library\n runtime\n .\n more\n",
                             "Architecture: amd64\n" };
    int perm[24][4];
    perms4(perm);
    char first[OUT_CAP], s[1024], out[OUT_CAP];
    for (int p = 0; p < 24; p++) {
        snprintf(s, sizeof s, "%s%s%s%s", lines[perm[p][0]], lines[perm[p][1]], lines[perm[p][2]],
                 lines[perm[p][3]]);
        CHECK_OK(t, canon(FG_CANON_STANZA, s, NULL, p ? out : first));
        CHECK(t, p == 0 || strcmp(out, first) == 0);
    }
    CHECK(t, strcmp(first, "architecture: amd64\ndescription: compression library runtime . more\n"
                           "package: zlib1g\nversion: 1:1.2.13\n") == 0);
}

TEST(permutations_csv)
{
    const char *names[4] = { "name", "\"ver,sion\"", "arch", "size" };
    const char *vals[4] = { "zlib1g", "\"1:1.2, 13\"", "amd64", "90" };
    int perm[24][4];
    perms4(perm);
    char first[OUT_CAP], h[256], r[256], out[OUT_CAP];
    for (int p = 0; p < 24; p++) {
        const int *q = perm[p];
        snprintf(h, sizeof h, "%s,%s,%s,%s", names[q[0]], names[q[1]], names[q[2]], names[q[3]]);
        snprintf(r, sizeof r, "%s,%s,%s,%s\n", vals[q[0]], vals[q[1]], vals[q[2]], vals[q[3]]);
        CHECK_OK(t, canon(FG_CANON_CSV, r, h, p ? out : first));
        CHECK(t, p == 0 || strcmp(out, first) == 0);
    }
    CHECK(t, strcmp(first, "arch=amd64\nname=zlib1g\nsize=90\nver,sion=1:1.2, 13\n") == 0);
}

TEST(whitespace_collapses)
{
    CHECK(t, same(FG_CANON_JSON, "{\"a\":[1,2],\"b\":{}}", NULL,
                  " \r\n{ \"b\" :\t{ } ,\n \"a\" : [ 1 , 2 ] }\n\n", NULL));
    /* white space inside JSON strings is data */
    CHECK(t, !same(FG_CANON_JSON, "{\"a\":\"x y\"}", NULL, "{\"a\":\"x  y\"}", NULL));
    CHECK(t,
          same(FG_CANON_STANZA, "A: x y\nB: z\n", NULL, "\n\nb:\tz  \r\na:   x\n   y\n\n", NULL));
    CHECK(t, same(FG_CANON_CSV, "x y,z", "a,b", "  x \t y ,\"z \"\r\n", " a , b"));
}

TEST(changed_value_changes_output)
{
    CHECK(t, !same(FG_CANON_JSON, "{\"a\":1,\"b\":2}", NULL, "{\"a\":1,\"b\":3}", NULL));
    CHECK(t, !same(FG_CANON_JSON, "{\"a\":1}", NULL, "{\"a\":1.0}", NULL)); /* as written */
    CHECK(t, !same(FG_CANON_JSON, "{\"a\":1}", NULL, "{\"a\":\"1\"}", NULL));
    CHECK(t, !same(FG_CANON_JSON, "{\"a\":[1,2]}", NULL, "{\"a\":[2,1]}", NULL));
    CHECK(t, !same(FG_CANON_JSON, "{\"a\":{\"b\":1}}", NULL, "{\"a\":{\"c\":1}}", NULL));
    CHECK(t, !same(FG_CANON_STANZA, "A: x\nB: y\n", NULL, "A: x\nB: y2\n", NULL));
    CHECK(t, !same(FG_CANON_STANZA, "A: x\n", NULL, "A: x\nB:\n", NULL)); /* empty != absent */
    CHECK(t, !same(FG_CANON_CSV, "1,2", "a,b", "1,3", "a,b"));
    /* the separators are escaped: the value "1\nb=2" is not two fields */
    CHECK(t, !same(FG_CANON_CSV, "\"1=b\",2", "a,c", "1,\"b=2\"", "a,c"));
    char out[OUT_CAP];
    CHECK_OK(t, canon(FG_CANON_CSV, "\"x=y\\z\",\"\x01\"", "a=,b", out));
    CHECK(t, strcmp(out, "a\\==x\\=y\\\\z\nb=\\x01\n") == 0);
}

TEST(json_nesting_and_escapes)
{
    char out[OUT_CAP];
    /* \u00e9 and a raw é give the same canonical string: strings are decoded, then written
     * back with raw UTF-8 for everything but quote, backslash and control characters */
    CHECK(t, same(FG_CANON_JSON, "{\"caf\\u00e9\":\"\\u00E9t\\u00e9\"}", NULL, "{\"café\":\"été\"}",
                  NULL));
    CHECK_OK(t, canon(FG_CANON_JSON,
                      "{\"z\":{\"y\":[{\"b\":true,\"a\":null}],\"x\":false},"
                      "\"s\":\"\\/\\u0041\\u001f\\b\\\"\\\\\\ud83d\\ude00\\t\"}",
                      NULL, out));
    CHECK(t, strcmp(out, "{\"s\":\"/A\\u001f\\b\\\"\\\\\xf0\x9f\x98\x80\\t\","
                         "\"z\":{\"x\":false,\"y\":[{\"a\":null,\"b\":true}]}}") == 0);
    /* keys sort by their decoded bytes; a NUL from \u0000 is a byte like any other */
    CHECK_OK(t, canon(FG_CANON_JSON, "{\"b\":1,\"a\\u0000\":2,\"a\":3}", NULL, out));
    CHECK(t, strcmp(out, "{\"a\":3,\"a\\u0000\":2,\"b\":1}") == 0);
    CHECK_OK(t, canon(FG_CANON_JSON, "{}", NULL, out));
    CHECK(t, strcmp(out, "{}") == 0);
    CHECK(t, canon(FG_CANON_JSON, "{\"a\":\"\\ud83d\"}", NULL, out) == FG_ERR_FORMAT);
    CHECK(t, canon(FG_CANON_JSON, "{\"a\":\"\\ude00\"}", NULL, out) == FG_ERR_FORMAT);
    /* depth limit */
    char deep[400];
    size_t n = 0;
    deep[n++] = '{';
    deep[n++] = '"', deep[n++] = 'a', deep[n++] = '"', deep[n++] = ':';
    for (int i = 0; i < 100; i++)
        deep[n++] = '[';
    for (int i = 0; i < 100; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    deep[n] = '\0';
    CHECK(t, canon(FG_CANON_JSON, deep, NULL, out) == FG_ERR_FORMAT);
}

/* zlib1g as /var/lib/dpkg/status and as the Packages index list it (fields reordered, status
 * adds Status, the index adds Filename and Size; the Description is wrapped alike) */
static const char *STATUS_VIEW = "Package: zlib1g\n"
                                 "Status: install ok installed\n"
                                 "Priority: optional\n"
                                 "Section: libs\n"
                                 "Installed-Size: 168\n"
                                 "Maintainer: Mark Brown <broonie@debian.org>\n"
                                 "Architecture: amd64\n"
                                 "Multi-Arch: same\n"
                                 "Source: zlib\n"
                                 "Version: 1:1.2.13.dfsg-1\n"
                                 "Depends: libc6 (>= 2.14)\n"
                                 "Description: compression library - runtime\n"
                                 " zlib is a library implementing the deflate compression\n"
                                 " method found in gzip and PKZIP.\n"
                                 " .\n"
                                 " This package includes the shared library.\n";
static const char *INDEX_VIEW = "Package: zlib1g\n"
                                "Source: zlib\n"
                                "Version: 1:1.2.13.dfsg-1\n"
                                "Installed-Size: 168\n"
                                "Maintainer: Mark Brown <broonie@debian.org>\n"
                                "Architecture: amd64\n"
                                "Multi-Arch: same\n"
                                "Depends: libc6 (>= 2.14)\n"
                                "Description: compression library - runtime\n"
                                "\tzlib is a library implementing the deflate compression method\n"
                                " found in gzip and PKZIP.\n"
                                " .\n"
                                " This package includes the shared library.\n"
                                "Section: libs\n"
                                "Priority: optional\n"
                                "Filename: pool/main/z/zlib/zlib1g_1.2.13.dfsg-1_amd64.deb\n"
                                "Size: 86432\n";

static struct fg_canon_rec *parse(enum fg_canon_kind kind, const char *s, const char *hdr)
{
    struct fg_canon_params p = fg_canon_params_default();
    p.csv_header = hdr;
    p.csv_header_len = hdr ? strlen(hdr) : 0;
    struct fg_canon_rec *r = NULL;
    if (fg_canon_parse(kind, s, strlen(s), &p, &r, NULL, 0) != FG_OK)
        return NULL;
    return r;
}

TEST(debian_stanza_continuations)
{
    struct fg_canon_rec *a = parse(FG_CANON_STANZA, STATUS_VIEW, NULL);
    struct fg_canon_rec *b = parse(FG_CANON_STANZA, INDEX_VIEW, NULL);
    CHECK(t, a && b);
    if (!a || !b)
        goto done;
    CHECK_EQ_I64(t, a->n_field, 12);
    CHECK_EQ_I64(t, b->n_field, 13);
    ptrdiff_t d = fg_canon_find(a, "DESCRIPTION", 11), e = fg_canon_find(b, "description", 11);
    CHECK(t, d >= 0 && e >= 0);
    if (d >= 0 && e >= 0) {
        const char *want = "compression library - runtime zlib is a library implementing the "
                           "deflate compression method found in gzip and PKZIP. . This package "
                           "includes the shared library.";
        CHECK_EQ_I64(t, a->field[d].value_len, strlen(want));
        CHECK(t, memcmp(a->field[d].value, want, strlen(want)) == 0);
        CHECK(t, b->field[e].value_len == a->field[d].value_len &&
                     memcmp(b->field[e].value, want, strlen(want)) == 0);
    }
    /* the canonical form is a stanza that canonicalizes to itself */
    char x[OUT_CAP], y[OUT_CAP];
    size_t n = 0, m = 0;
    CHECK_OK(t, fg_canon_write(a, x, sizeof x - 1, &n));
    x[n] = '\0';
    CHECK(t, strncmp(x, "architecture: amd64\ndepends: libc6 (>= 2.14)\n", 45) == 0);
    CHECK_OK(t, canon(FG_CANON_STANZA, x, NULL, y));
    CHECK(t, strcmp(x, y) == 0);
    /* size query */
    CHECK(t, fg_canon_write(a, NULL, 0, &m) == FG_ERR_INVALID_ARG && m == n);
    CHECK(t, fg_canon_write(a, x, 10, &m) == FG_ERR_INVALID_ARG && m == n);
    /* exact hash: equal for a reordered copy, different for the superset view */
    struct fg_canon_rec *c = parse(FG_CANON_STANZA, y, NULL);
    uint64_t ha[2], hb[2], hc[2];
    fg_canon_hash(a, ha);
    fg_canon_hash(b, hb);
    if (c) {
        fg_canon_hash(c, hc);
        CHECK(t, ha[0] == hc[0] && ha[1] == hc[1]);
    }
    CHECK(t, c != NULL);
    CHECK(t, ha[0] != hb[0] || ha[1] != hb[1]);
    fg_canon_rec_free(c);
done:
    fg_canon_rec_free(a);
    fg_canon_rec_free(b);
}

TEST(csv_quoting)
{
    char out[OUT_CAP];
    CHECK_OK(t,
             canon(FG_CANON_CSV, "\"a,b\",\"he said \"\"hi\"\"\",\"two\nlines\",", "x,y,z,w", out));
    CHECK(t, strcmp(out, "w=\nx=a,b\ny=he said \"hi\"\nz=two lines\n") == 0);
    CHECK_OK(t, canon(FG_CANON_CSV, "\"\"", "x", out));
    CHECK(t, strcmp(out, "x=\n") == 0);
    CHECK_OK(t, canon(FG_CANON_CSV, "1,2\r\n", "\"b\"\"\",a\r\n", out));
    CHECK(t, strcmp(out, "a=2\nb\"=1\n") == 0);
}

TEST(keyed_rule)
{
    const char *key[3] = { "Package", "version", "ARCHITECTURE" };
    struct fg_canon_rec *a = parse(FG_CANON_STANZA, STATUS_VIEW, NULL);
    struct fg_canon_rec *b = parse(FG_CANON_STANZA, INDEX_VIEW, NULL);
    struct fg_canon_rec *c =
        parse(FG_CANON_STANZA,
              "Package: zlib1g\nVersion: 1:1.2.13.dfsg-1\nArchitecture: amd64\n"
              "Maintainer: Someone Else <x@example.org>\n",
              NULL);
    struct fg_canon_rec *d = parse(FG_CANON_STANZA, "Package: zlib1g\nArchitecture: amd64\n", NULL);
    struct fg_canon_rec *e =
        parse(FG_CANON_STANZA, "Package: zlib1g\nVersion: 1:1.3\nArchitecture: amd64\n", NULL);
    CHECK(t, a && b && c && d && e);
    if (a && b && c && d && e) {
        uint64_t ha[2], hb[2], hc[2], hd[2], he[2];
        CHECK(t, fg_canon_keyed_equal(a, b, key, 3));  /* extra fields on both sides */
        CHECK(t, fg_canon_keyed_equal(b, a, key, 3));  /* symmetric */
        CHECK(t, !fg_canon_keyed_equal(a, c, key, 3)); /* Maintainer differs */
        CHECK(t, !fg_canon_keyed_equal(a, d, key, 3)); /* d has no Version */
        CHECK(t, !fg_canon_keyed_equal(d, d, key, 3)); /* even with itself */
        CHECK(t, !fg_canon_keyed_equal(a, e, key, 3)); /* key value differs */
        CHECK(t, fg_canon_keyed_equal(a, d, key, 1));  /* keyed on Package alone */
        CHECK(t, fg_canon_keyed_equal(a, e, NULL, 0) == 0);
        CHECK(t, fg_canon_key_hash(a, key, 3, ha) && fg_canon_key_hash(b, key, 3, hb));
        CHECK(t, fg_canon_key_hash(c, key, 3, hc) && fg_canon_key_hash(e, key, 3, he));
        CHECK(t, ha[0] == hb[0] && ha[1] == hb[1]);
        CHECK(t, ha[0] == hc[0] && ha[1] == hc[1]); /* same bucket, rejected on comparison */
        CHECK(t, ha[0] != he[0] || ha[1] != he[1]);
        CHECK(t, fg_canon_key_hash(d, key, 3, hd) == 0 && hd[0] == 0 && hd[1] == 0);
    }
    /* JSON: the same rule, keys case-sensitive */
    struct fg_canon_rec *j1 = parse(FG_CANON_JSON, "{\"id\":7,\"x\":{\"b\":1,\"a\":2}}", NULL);
    struct fg_canon_rec *j2 =
        parse(FG_CANON_JSON, "{\"x\":{\"a\":2,\"b\":1},\"id\":7,\"y\":0}", NULL);
    const char *jk[1] = { "id" }, *jK[1] = { "ID" };
    CHECK(t, j1 && j2);
    if (j1 && j2) {
        CHECK(t, fg_canon_keyed_equal(j1, j2, jk, 1));
        CHECK(t, !fg_canon_keyed_equal(j1, j2, jK, 1));
    }
    fg_canon_rec_free(j1);
    fg_canon_rec_free(j2);
    fg_canon_rec_free(a);
    fg_canon_rec_free(b);
    fg_canon_rec_free(c);
    fg_canon_rec_free(d);
    fg_canon_rec_free(e);
}

static void expect_format(struct fg_test *t, enum fg_canon_kind kind, const char *s,
                          const char *hdr, int line)
{
    struct fg_canon_params p = fg_canon_params_default();
    p.csv_header = hdr;
    p.csv_header_len = hdr ? strlen(hdr) : 0;
    struct fg_canon_rec *r = (struct fg_canon_rec *)&p; /* must come back NULL */
    char err[256] = "";
    fg_status st = fg_canon_parse(kind, s, strlen(s), &p, &r, err, sizeof err);
    if (st != FG_ERR_FORMAT || err[0] == '\0' || r != NULL)
        fg_test_fail(t, __FILE__, line, "expected FG_ERR_FORMAT with a message for [%s]: %d '%s'",
                     s, (int)st, err);
}

TEST(bad_input)
{
    expect_format(t, FG_CANON_JSON, "{\"a\":[1,2", NULL, __LINE__); /* truncated */
    expect_format(t, FG_CANON_JSON, "{\"a\":\"x", NULL, __LINE__);
    expect_format(t, FG_CANON_JSON, "{\"a\"", NULL, __LINE__);
    expect_format(t, FG_CANON_JSON, "", NULL, __LINE__);
    expect_format(t, FG_CANON_JSON, "[1,2]", NULL, __LINE__); /* not an object */
    expect_format(t, FG_CANON_JSON, "\"a\"", NULL, __LINE__);
    expect_format(t, FG_CANON_JSON, "{} {}", NULL, __LINE__);
    expect_format(t, FG_CANON_JSON, "{\"a\":1,}", NULL, __LINE__);
    expect_format(t, FG_CANON_JSON, "{\"a\":01}", NULL, __LINE__);
    expect_format(t, FG_CANON_JSON, "{\"a\":1.}", NULL, __LINE__);
    expect_format(t, FG_CANON_JSON, "{\"a\":tru}", NULL, __LINE__);
    expect_format(t, FG_CANON_JSON, "{\"a\":\"\\x\"}", NULL, __LINE__);
    expect_format(t, FG_CANON_JSON, "{\"a\":\"tab\there\"}", NULL, __LINE__);
    expect_format(t, FG_CANON_JSON, "{\"a\":1,\"a\":1}", NULL, __LINE__); /* duplicate */
    expect_format(t, FG_CANON_JSON, "{\"o\":{\"a\":1,\"b\":2,\"a\":3}}", NULL, __LINE__);
    expect_format(t, FG_CANON_STANZA, "Package: x\nno colon here\n", NULL, __LINE__);
    expect_format(t, FG_CANON_STANZA, "Package: x\npackage: y\n", NULL, __LINE__); /* dup */
    expect_format(t, FG_CANON_STANZA, " continuation first\nA: b\n", NULL, __LINE__);
    expect_format(t, FG_CANON_STANZA, "A: b\n\nB: c\n", NULL, __LINE__); /* two stanzas */
    expect_format(t, FG_CANON_STANZA, "\n\n", NULL, __LINE__);
    expect_format(t, FG_CANON_STANZA, "Bad Name: x\n", NULL, __LINE__);
    expect_format(t, FG_CANON_STANZA, ": x\n", NULL, __LINE__);
    expect_format(t, FG_CANON_CSV, "1,2", "a,a", __LINE__); /* duplicate column */
    expect_format(t, FG_CANON_CSV, "1,2,3", "a,b", __LINE__);
    expect_format(t, FG_CANON_CSV, "1", "a,b", __LINE__);
    expect_format(t, FG_CANON_CSV, "\"1,2", "a,b", __LINE__);
    expect_format(t, FG_CANON_CSV, "\"1\"x,2", "a,b", __LINE__);
    expect_format(t, FG_CANON_CSV, "1,2\n3,4\n", "a,b", __LINE__);
    expect_format(t, FG_CANON_CSV, "1,2", "a,", __LINE__); /* empty name */
    /* caller errors */
    struct fg_canon_rec *r = NULL;
    char err[128] = "";
    CHECK(t, fg_canon_parse(FG_CANON_CSV, "1", 1, NULL, &r, err, sizeof err) == FG_ERR_INVALID_ARG);
    CHECK(t, err[0] != '\0' && r == NULL);
    CHECK(t,
          fg_canon_parse((enum fg_canon_kind)7, "1", 1, NULL, &r, NULL, 0) == FG_ERR_INVALID_ARG);
}

/* ---- random JSON records ---- */

struct strbuf {
    char *p;
    size_t len, cap;
};

static void sb_add(struct strbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        while (b->len + n + 1 > b->cap)
            b->cap = b->cap ? 2 * b->cap : 1024;
        char *np = realloc(b->p, b->cap);
        if (!np)
            abort();
        b->p = np;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(struct strbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void rand_ws(struct strbuf *b, struct fg_rng *r)
{
    static const char *ws[] = { "", "", " ", "\n", "\t ", "\r\n  " };
    sb_str(b, ws[fg_rng_below(r, 6)]);
}

static void rand_string(struct strbuf *b, struct fg_rng *r, int key_id)
{
    static const char *pieces[] = { "a",    "b",   "Z",       " ", "\\n",     "\\\"",
                                    "\\\\", "\\/", "\\u00e9", "é", "\\u0001", "\\ud83d\\ude00",
                                    "\\t",  "=",   ":",       "," };
    sb_str(b, "\"");
    if (key_id >= 0) { /* distinct keys: a unique prefix */
        char k[16];
        snprintf(k, sizeof k, "k%d", key_id);
        sb_str(b, k);
    }
    int n = (int)fg_rng_below(r, 6);
    for (int i = 0; i < n; i++)
        sb_str(b, pieces[fg_rng_below(r, 16)]);
    sb_str(b, "\"");
}

static void rand_value(struct strbuf *b, struct fg_rng *r, int depth);

static void rand_object(struct strbuf *b, struct fg_rng *r, int depth)
{
    int n = (int)fg_rng_below(r, depth < 3 ? 5 : 2);
    sb_str(b, "{");
    for (int i = 0; i < n; i++) {
        rand_ws(b, r);
        rand_string(b, r, (int)fg_rng_below(r, 1000) * 8 + i); /* distinct in the object */
        rand_ws(b, r);
        sb_str(b, ":");
        rand_ws(b, r);
        rand_value(b, r, depth + 1);
        rand_ws(b, r);
        if (i + 1 < n)
            sb_str(b, ",");
    }
    sb_str(b, "}");
}

static void rand_value(struct strbuf *b, struct fg_rng *r, int depth)
{
    static const char *atoms[] = { "0", "-1.5e+3", "12", "true", "false", "null", "1E-2", "0.0" };
    int c = (int)fg_rng_below(r, depth < 4 ? 5 : 3);
    if (c == 0) {
        sb_str(b, atoms[fg_rng_below(r, 8)]);
    } else if (c == 1 || c == 2) {
        rand_string(b, r, -1);
    } else if (c == 3) {
        rand_object(b, r, depth);
    } else {
        int n = (int)fg_rng_below(r, 4);
        sb_str(b, "[");
        for (int i = 0; i < n; i++) {
            rand_ws(b, r);
            rand_value(b, r, depth + 1);
            if (i + 1 < n)
                sb_str(b, ",");
        }
        sb_str(b, "]");
    }
}

TEST(random_json_fixed_point)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    struct strbuf b = { NULL, 0, 0 };
    char *x = malloc(1 << 16), *y = malloc(1 << 16);
    size_t nx = 0, ny = 0;
    char err[256] = "";
    int bad = 0;
    for (int it = 0; it < 500 && x && y; it++) {
        b.len = 0;
        rand_object(&b, &r, 0);
        fg_status s1 =
            fg_canon_record(FG_CANON_JSON, b.p, b.len, NULL, x, 1 << 16, &nx, err, sizeof err);
        fg_status s2 =
            s1 ? s1 : fg_canon_record(FG_CANON_JSON, x, nx, NULL, y, 1 << 16, &ny, err, sizeof err);
        if (s1 != FG_OK || s2 != FG_OK || nx != ny || memcmp(x, y, nx) != 0) {
            if (bad++ < 3)
                fg_test_fail(t, __FILE__, __LINE__, "not a fixed point (%s): %s", err, b.p);
        }
    }
    CHECK(t, x && y);
    CHECK_EQ_I64(t, bad, 0);
    free(b.p);
    free(x);
    free(y);
}

/* ---- allocation failures (curl torture): fail the k-th allocation, for every k ---- */

TEST(allocation_failures)
{
    const char *s = "{\"b\":{\"y\":[1,{\"q\":2,\"p\":1}],\"x\":\"\\u00e9\"},\"a\":{}}";
    int ok = 0;
    for (int k = 1; k < 200 && !ok; k++) {
        struct fg_test_alloc f = { .fail_at = (size_t)k };
        struct fg_allocator a = fg_test_allocator(&f);
        struct fg_canon_params p = fg_canon_params_default();
        p.alloc = &a;
        struct fg_canon_rec *r = NULL;
        fg_status st = fg_canon_parse(FG_CANON_JSON, s, strlen(s), &p, &r, NULL, 0);
        CHECK(t, st == FG_OK || st == FG_ERR_NOMEM);
        ok = st == FG_OK;
        fg_canon_rec_free(r);
        CHECK_EQ_I64(t, f.live, 0);
    }
    CHECK(t, ok);
}

static const struct fg_test_case cases[] = {
    { "permutations_json", test_permutations_json },
    { "permutations_stanza", test_permutations_stanza },
    { "permutations_csv", test_permutations_csv },
    { "whitespace_collapses", test_whitespace_collapses },
    { "changed_value_changes_output", test_changed_value_changes_output },
    { "json_nesting_and_escapes", test_json_nesting_and_escapes },
    { "debian_stanza_continuations", test_debian_stanza_continuations },
    { "csv_quoting", test_csv_quoting },
    { "keyed_rule", test_keyed_rule },
    { "bad_input", test_bad_input },
    { "random_json_fixed_point", test_random_json_fixed_point },
    { "allocation_failures", test_allocation_failures },
};

int main(int argc, char **argv)
{
    return fg_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
