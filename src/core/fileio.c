/* Files: atomic replace (temp file in the same directory, fsync, rename, fsync the directory)
 * and whole-file reads. This is how every checkpoint and output file is written, so a crash or
 * a full disk leaves either the old file or the new one and never a torn one. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frugal/core.h"

void fg_errno_msg(char *errmsg, size_t errmsg_len, int err, const char *what)
{
    char buf[160] = "unknown error";
    /* The XSI strerror_r (with _POSIX_C_SOURCE and no _GNU_SOURCE) returns int. */
    if (strerror_r(err, buf, sizeof buf) != 0)
        snprintf(buf, sizeof buf, "unknown error");
    if (errmsg && errmsg_len)
        snprintf(errmsg, errmsg_len, "%s: %s (errno %d)", what, buf, err);
}

static void dir_of(const char *path, char *dir, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, n, ".");
    } else if (slash == path) {
        snprintf(dir, n, "/");
    } else {
        size_t len = (size_t)(slash - path);
        if (len >= n)
            len = n - 1;
        memcpy(dir, path, len);
        dir[len] = '\0';
    }
}

fg_status fg_atomic_open(struct fg_atomic_file *f, const char *path, char *errmsg,
                         size_t errmsg_len)
{
    memset(f, 0, sizeof *f);
    if (strlen(path) >= sizeof f->path) {
        snprintf(errmsg, errmsg_len, "path too long: %.64s...", path);
        return FG_ERR_INVALID_ARG;
    }
    snprintf(f->path, sizeof f->path, "%s", path);
    snprintf(f->tmp, sizeof f->tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        char what[4300];
        snprintf(what, sizeof what, "cannot create %s", f->tmp);
        fg_errno_msg(errmsg, errmsg_len, errno, what);
        return FG_ERR_IO;
    }
    FILE *fp = fdopen(fd, "wb");
    if (!fp) {
        int e = errno;
        close(fd);
        unlink(f->tmp);
        fg_errno_msg(errmsg, errmsg_len, e, "fdopen");
        return FG_ERR_IO;
    }
    f->fp = fp;
    return FG_OK;
}

fg_status fg_atomic_write(struct fg_atomic_file *f, const void *buf, size_t len, char *errmsg,
                          size_t errmsg_len)
{
    if (!f->fp || f->failed)
        return FG_ERR_IO;
    if (f->fail_after_bytes && f->written + len > f->fail_after_bytes) {
        f->failed = 1;
        fg_errno_msg(errmsg, errmsg_len, ENOSPC, "write (injected fault)");
        return FG_ERR_IO;
    }
    if (len && fwrite(buf, 1, len, (FILE *)f->fp) != len) {
        f->failed = 1;
        char what[4300];
        snprintf(what, sizeof what, "write to %s failed", f->tmp);
        fg_errno_msg(errmsg, errmsg_len, errno, what);
        return FG_ERR_IO;
    }
    f->written += len;
    return FG_OK;
}

void fg_atomic_abort(struct fg_atomic_file *f)
{
    if (f->fp) {
        fclose((FILE *)f->fp);
        f->fp = NULL;
    }
    if (f->tmp[0])
        unlink(f->tmp);
    f->tmp[0] = '\0';
}

fg_status fg_atomic_commit(struct fg_atomic_file *f, char *errmsg, size_t errmsg_len)
{
    FILE *fp = f->fp;
    char what[8400];
    if (!fp || f->failed) {
        fg_atomic_abort(f);
        return FG_ERR_IO;
    }
    if (fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
        snprintf(what, sizeof what, "flushing %s failed", f->tmp);
        fg_errno_msg(errmsg, errmsg_len, errno, what);
        fg_atomic_abort(f);
        return FG_ERR_IO;
    }
    f->fp = NULL;
    if (fclose(fp) != 0) {
        snprintf(what, sizeof what, "closing %s failed", f->tmp);
        fg_errno_msg(errmsg, errmsg_len, errno, what);
        fg_atomic_abort(f);
        return FG_ERR_IO;
    }
    if (rename(f->tmp, f->path) != 0) {
        snprintf(what, sizeof what, "renaming %s to %s failed", f->tmp, f->path);
        fg_errno_msg(errmsg, errmsg_len, errno, what);
        fg_atomic_abort(f);
        return FG_ERR_IO;
    }
    f->tmp[0] = '\0';
    /* Make the rename itself durable. */
    char dir[4096];
    dir_of(f->path, dir, sizeof dir);
    int dfd = open(dir, O_RDONLY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return FG_OK;
}

fg_status fg_read_file(const struct fg_allocator *a, const char *path, void **out, size_t *out_len,
                       char *errmsg, size_t errmsg_len)
{
    char what[4200];
    *out = NULL;
    *out_len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(what, sizeof what, "cannot open %s", path);
        fg_errno_msg(errmsg, errmsg_len, errno, what);
        return FG_ERR_IO;
    }
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(errmsg, errmsg_len, "%s is not a regular file", path);
        fclose(fp);
        return FG_ERR_IO;
    }
    size_t n = (size_t)st.st_size;
    unsigned char *buf = fg_alloc(a, n + 1, 64);
    if (!buf) {
        snprintf(errmsg, errmsg_len, "out of memory reading %s (%zu bytes)", path, n);
        fclose(fp);
        return FG_ERR_NOMEM;
    }
    if (n && fread(buf, 1, n, fp) != n) {
        snprintf(what, sizeof what, "reading %s failed", path);
        fg_errno_msg(errmsg, errmsg_len, errno ? errno : EIO, what);
        fg_free(a, buf);
        fclose(fp);
        return FG_ERR_IO;
    }
    fclose(fp);
    buf[n] = 0;
    *out = buf;
    *out_len = n;
    return FG_OK;
}
