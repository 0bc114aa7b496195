/* The safetensors container: a strict reader (every byte accounted for) and an atomic writer.
 * JSON goes through cJSON; tensor data is never copied by the reader. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "frugal/ckpt.h"

static const char *const dtype_names[FG_DTYPE_COUNT] = { "F32", "F64", "F16", "BF16", "I64", "I32",
                                                         "I16", "I8",  "U8",  "U16",  "U32" };
static const size_t dtype_sizes[FG_DTYPE_COUNT] = { 4, 8, 2, 2, 8, 4, 2, 1, 1, 2, 4 };

const char *fg_dtype_name(enum fg_dtype d)
{
    return (unsigned)d < FG_DTYPE_COUNT ? dtype_names[d] : "?";
}

size_t fg_dtype_size(enum fg_dtype d)
{
    return (unsigned)d < FG_DTYPE_COUNT ? dtype_sizes[d] : 0;
}

void fg_st_free(struct fg_st_file *f)
{
    if (!f)
        return;
    struct fg_allocator a = f->alloc;
    fg_free(&a, f->buf);
    fg_free(&a, f->tensors);
    fg_free(&a, f->meta);
    fg_free(&a, f->strings);
    fg_free(&a, f);
}

const struct fg_st_tensor *fg_st_find(const struct fg_st_file *f, const char *name)
{
    for (size_t i = 0; i < f->n_tensors; i++)
        if (!strcmp(f->tensors[i].name, name))
            return &f->tensors[i];
    return NULL;
}

const char *fg_st_meta(const struct fg_st_file *f, const char *key)
{
    for (size_t i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta[i].key, key))
            return f->meta[i].value;
    return NULL;
}

static int cmp_begin(const void *x, const void *y)
{
    const struct fg_st_tensor *a = x, *b = y;
    if (a->offset != b->offset)
        return a->offset < b->offset ? -1 : 1;
    /* an empty tensor may share its start with the next one: empty first */
    return (a->nbytes > b->nbytes) - (a->nbytes < b->nbytes);
}

static int get_u64(const cJSON *j, uint64_t *out)
{
    if (!cJSON_IsNumber(j) || j->valuedouble < 0 || j->valuedouble > 9007199254740992.0 ||
        j->valuedouble != (double)(uint64_t)j->valuedouble)
        return 0;
    *out = (uint64_t)j->valuedouble;
    return 1;
}

#define ST_FAIL(...)                               \
    do {                                           \
        snprintf(errmsg, errmsg_len, __VA_ARGS__); \
        goto fail;                                 \
    } while (0)

/* Parse an image whose first `have` bytes are in buf (at least the 8-byte length and the
 * header) out of a file of `len` bytes; with_data: buf holds the whole file and tensor data
 * pointers are set, else they stay NULL. */
static fg_status parse_image(const void *buf, size_t have, size_t len, int with_data,
                             const struct fg_allocator *alloc, struct fg_st_file **out,
                             char *errmsg, size_t errmsg_len)
{
    const unsigned char *b = buf;
    struct fg_allocator a = alloc ? *alloc : fg_allocator_default();
    struct fg_st_file *f = NULL;
    cJSON *root = NULL;
    fg_status st = FG_ERR_FORMAT;
    *out = NULL;
    if (len < 8)
        ST_FAIL("file is %zu bytes, shorter than the 8-byte safetensors header length", len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | b[i];
    if (hlen < 2 || hlen > len - 8 || hlen > (100u << 20) || hlen > have - 8)
        ST_FAIL("header length %llu does not fit the file (%zu bytes): truncated or not "
                "safetensors",
                (unsigned long long)hlen, len);
    if (b[8] != '{')
        ST_FAIL("header does not start with '{'");
    const char *hdr = (const char *)b + 8, *hdr_end = NULL;
    root = cJSON_ParseWithLengthOpts(hdr, (size_t)hlen, &hdr_end, 0);
    if (!root || !cJSON_IsObject(root))
        ST_FAIL("header is not a valid JSON object");
    for (; hdr_end < hdr + hlen; hdr_end++)
        if (*hdr_end != ' ' && *hdr_end != '\t' && *hdr_end != '\n' && *hdr_end != '\r')
            ST_FAIL("header has bytes after the JSON object");
    const unsigned char *data = with_data ? b + 8 + hlen : NULL;
    size_t data_len = len - 8 - (size_t)hlen;

    size_t n_entries = 0, n_meta = 0, str_bytes = 0;
    for (cJSON *e = root->child; e; e = e->next) {
        if (!e->string)
            ST_FAIL("header entry without a name");
        if (!strcmp(e->string, "__metadata__")) {
            if (!cJSON_IsObject(e))
                ST_FAIL("__metadata__ is not an object");
            for (cJSON *kv = e->child; kv; kv = kv->next) {
                if (!cJSON_IsString(kv))
                    ST_FAIL("metadata value of \"%.64s\" is not a string", kv->string);
                n_meta++;
                str_bytes += strlen(kv->string) + strlen(kv->valuestring) + 2;
            }
        } else {
            n_entries++;
            str_bytes += strlen(e->string) + 1;
        }
    }
    st = FG_ERR_NOMEM;
    f = fg_alloc(&a, sizeof *f, 16);
    if (!f)
        ST_FAIL("out of memory");
    memset(f, 0, sizeof *f);
    f->alloc = a;
    f->tensors = n_entries ? fg_alloc(&a, n_entries * sizeof *f->tensors, 16) : NULL;
    f->meta = n_meta ? fg_alloc(&a, n_meta * sizeof *f->meta, 16) : NULL;
    f->strings = fg_alloc(&a, str_bytes + 1, 16);
    if ((n_entries && !f->tensors) || (n_meta && !f->meta) || !f->strings)
        ST_FAIL("out of memory");
    st = FG_ERR_FORMAT;
    char *sp = f->strings;
    for (cJSON *e = root->child; e; e = e->next) {
        if (!strcmp(e->string, "__metadata__")) {
            for (cJSON *kv = e->child; kv; kv = kv->next) {
                struct fg_st_kv *m = &f->meta[f->n_meta++];
                m->key = strcpy(sp, kv->string);
                sp += strlen(sp) + 1;
                m->value = strcpy(sp, kv->valuestring);
                sp += strlen(sp) + 1;
            }
            continue;
        }
        struct fg_st_tensor *t = &f->tensors[f->n_tensors];
        memset(t, 0, sizeof *t);
        t->name = strcpy(sp, e->string);
        sp += strlen(sp) + 1;
        if (fg_st_find(f, t->name))
            ST_FAIL("tensor \"%.64s\" appears twice", t->name);
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
        const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
        if (!cJSON_IsString(dt) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs) ||
            cJSON_GetArraySize(offs) != 2)
            ST_FAIL("tensor \"%.64s\" lacks dtype, shape or data_offsets", t->name);
        int d;
        for (d = 0; d < FG_DTYPE_COUNT; d++)
            if (!strcmp(dt->valuestring, dtype_names[d]))
                break;
        if (d == FG_DTYPE_COUNT)
            ST_FAIL("tensor \"%.64s\" has unsupported dtype \"%.16s\"", t->name, dt->valuestring);
        t->dtype = (enum fg_dtype)d;
        int nd = cJSON_GetArraySize(shape);
        if (nd > FG_ST_MAX_DIMS)
            ST_FAIL("tensor \"%.64s\" has %d dimensions (max %d)", t->name, nd, FG_ST_MAX_DIMS);
        t->ndim = nd;
        size_t numel = 1;
        for (int i = 0; i < nd; i++) {
            uint64_t v;
            if (!get_u64(cJSON_GetArrayItem(shape, i), &v) || v > ((uint64_t)1 << 48))
                ST_FAIL("tensor \"%.64s\" has a bad shape", t->name);
            t->shape[i] = (int64_t)v;
            if (fg_size_mul(numel, (size_t)v, &numel) != FG_OK)
                ST_FAIL("tensor \"%.64s\" shape overflows", t->name);
        }
        uint64_t begin, end;
        if (!get_u64(cJSON_GetArrayItem(offs, 0), &begin) ||
            !get_u64(cJSON_GetArrayItem(offs, 1), &end) || begin > end || end > data_len)
            ST_FAIL("tensor \"%.64s\" data_offsets [%.0f, %.0f] are outside the %zu data bytes "
                    "(truncated file?)",
                    t->name, cJSON_GetArrayItem(offs, 0)->valuedouble,
                    cJSON_GetArrayItem(offs, 1)->valuedouble, data_len);
        size_t want;
        if (fg_size_mul(numel, dtype_sizes[d], &want) != FG_OK || want != end - begin)
            ST_FAIL("tensor \"%.64s\": shape needs %zu bytes but offsets give %llu", t->name,
                    numel * dtype_sizes[d], (unsigned long long)(end - begin));
        t->data = data ? data + begin : NULL;
        t->offset = begin;
        t->nbytes = (size_t)(end - begin);
        f->n_tensors++;
    }
    /* Contiguity: sorted by start, each tensor begins where the previous ended. */
    if (f->n_tensors) {
        struct fg_st_tensor *sorted = fg_alloc(&a, f->n_tensors * sizeof *sorted, 16);
        if (!sorted) {
            st = FG_ERR_NOMEM;
            ST_FAIL("out of memory");
        }
        memcpy(sorted, f->tensors, f->n_tensors * sizeof *sorted);
        qsort(sorted, f->n_tensors, sizeof *sorted, cmp_begin);
        uint64_t pos = 0;
        int bad = 0;
        for (size_t i = 0; i < f->n_tensors && !bad; i++) {
            if (sorted[i].offset != pos)
                bad = 1;
            pos += sorted[i].nbytes;
        }
        if (!bad && pos != data_len)
            bad = 2;
        fg_free(&a, sorted);
        if (bad == 1)
            ST_FAIL("tensor data overlaps or leaves gaps");
        if (bad == 2)
            ST_FAIL("%zu bytes after the last tensor", (size_t)(data_len - pos));
    } else if (data_len) {
        ST_FAIL("%zu data bytes but no tensors", data_len);
    }
    cJSON_Delete(root);
    f->data_start = 8 + hlen;
    *out = f;
    return FG_OK;
fail:
    cJSON_Delete(root);
    fg_st_free(f);
    return st;
}

fg_status fg_st_parse(const void *buf, size_t len, const struct fg_allocator *alloc,
                      struct fg_st_file **out, char *errmsg, size_t errmsg_len)
{
    return parse_image(buf, len, len, 1, alloc, out, errmsg, errmsg_len);
}

fg_status fg_st_load_header(const char *path, const struct fg_allocator *alloc,
                            struct fg_st_file **out, char *errmsg, size_t errmsg_len)
{
    char what[4200], inner[200];
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(what, sizeof what, "cannot open %s", path);
        fg_errno_msg(errmsg, errmsg_len, errno, what);
        return FG_ERR_IO;
    }
    unsigned char len8[8];
    long long size = -1;
    if (fseeko(fp, 0, SEEK_END) == 0)
        size = (long long)ftello(fp);
    if (size < 8 || fseeko(fp, 0, SEEK_SET) != 0 || fread(len8, 1, 8, fp) != 8) {
        snprintf(errmsg, errmsg_len, "%s: file is %lld bytes, too short for a safetensors header",
                 path, size);
        fclose(fp);
        return FG_ERR_FORMAT;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | len8[i];
    if (hlen < 2 || hlen > (uint64_t)size - 8 || hlen > (100u << 20)) {
        snprintf(errmsg, errmsg_len,
                 "%s: header length %llu does not fit the file (%lld bytes): truncated or not "
                 "safetensors",
                 path, (unsigned long long)hlen, size);
        fclose(fp);
        return FG_ERR_FORMAT;
    }
    unsigned char *buf = fg_alloc(alloc, 8 + (size_t)hlen, 64);
    if (!buf) {
        fclose(fp);
        snprintf(errmsg, errmsg_len, "out of memory reading the header of %s", path);
        return FG_ERR_NOMEM;
    }
    memcpy(buf, len8, 8);
    int ok = fread(buf + 8, 1, (size_t)hlen, fp) == hlen;
    fclose(fp);
    fg_status st = FG_ERR_IO;
    if (!ok)
        snprintf(errmsg, errmsg_len, "%s: reading its header failed", path);
    else if ((st = parse_image(buf, 8 + (size_t)hlen, (size_t)size, 0, alloc, out, inner,
                               sizeof inner)) != FG_OK)
        snprintf(errmsg, errmsg_len, "%s: %s", path, inner);
    fg_free(alloc, buf);
    return st;
}

fg_status fg_st_load(const char *path, const struct fg_allocator *alloc, struct fg_st_file **out,
                     char *errmsg, size_t errmsg_len)
{
    void *buf;
    size_t len;
    *out = NULL;
    FG_TRY(fg_read_file(alloc, path, &buf, &len, errmsg, errmsg_len));
    char inner[200];
    fg_status st = fg_st_parse(buf, len, alloc, out, inner, sizeof inner);
    if (st != FG_OK) {
        snprintf(errmsg, errmsg_len, "%s: %s", path, inner);
        fg_free(alloc, buf);
        return st;
    }
    (*out)->buf = buf;
    return FG_OK;
}

fg_status fg_st_write(const char *path, const struct fg_st_tensor *t, size_t n,
                      const struct fg_st_kv *meta, size_t n_meta, uint64_t fail_after_bytes,
                      char *errmsg, size_t errmsg_len)
{
    fg_status st = FG_ERR_NOMEM;
    char *json = NULL;
    cJSON *root = cJSON_CreateObject();
    if (!root)
        goto fail;
    if (n_meta) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        if (!m)
            goto fail;
        for (size_t i = 0; i < n_meta; i++)
            if (!cJSON_AddStringToObject(m, meta[i].key, meta[i].value))
                goto fail;
    }
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        cJSON *e = cJSON_AddObjectToObject(root, t[i].name);
        if (!e || !cJSON_AddStringToObject(e, "dtype", fg_dtype_name(t[i].dtype)))
            goto fail;
        cJSON *shape = cJSON_AddArrayToObject(e, "shape");
        cJSON *offs = cJSON_AddArrayToObject(e, "data_offsets");
        if (!shape || !offs)
            goto fail;
        for (int d = 0; d < t[i].ndim; d++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t[i].shape[d]));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + t[i].nbytes)));
        off += t[i].nbytes;
    }
    json = cJSON_PrintUnformatted(root);
    if (!json)
        goto fail;
    size_t jlen = strlen(json), padded = fg_align_up(jlen, 8);
    unsigned char hdr[8];
    for (int i = 0; i < 8; i++)
        hdr[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    struct fg_atomic_file af;
    st = fg_atomic_open(&af, path, errmsg, errmsg_len);
    if (st != FG_OK)
        goto done;
    af.fail_after_bytes = fail_after_bytes;
    static const char spaces[8] = "        ";
    st = fg_atomic_write(&af, hdr, 8, errmsg, errmsg_len);
    if (!st)
        st = fg_atomic_write(&af, json, jlen, errmsg, errmsg_len);
    if (!st)
        st = fg_atomic_write(&af, spaces, padded - jlen, errmsg, errmsg_len);
    for (size_t i = 0; i < n && !st; i++)
        st = fg_atomic_write(&af, t[i].data, t[i].nbytes, errmsg, errmsg_len);
    if (st) {
        fg_atomic_abort(&af);
        goto done;
    }
    st = fg_atomic_commit(&af, errmsg, errmsg_len);
    goto done;
fail:
    snprintf(errmsg, errmsg_len, "out of memory building the safetensors header");
done:
    cJSON_free(json);
    cJSON_Delete(root);
    return st;
}
