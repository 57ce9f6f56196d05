/* wasiports POSIX compatibility shim for WASI preview 1.
 *
 * Force-included (-include wasiports/compat.h) into every PHP translation unit. It declares the
 * POSIX functions wasi-libc leaves out for wasip1; src/compat.c defines them. Nothing here pretends:
 * each call that cannot work on WASI fails the POSIX way (-1 or NULL with errno set), so PHP's
 * own error paths report it ("Function not implemented", "Not supported").
 *
 * Identity: WASI has no users. stat() reports uid/gid 0 for every file, so the process is uid/gid 0
 * too, which keeps PHP's owner checks consistent with what stat() says.
 */
#ifndef WASIPORTS_COMPAT_H
#define WASIPORTS_COMPAT_H
#ifdef __wasi__

#include <sys/types.h>
#include <stdio.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/* users and groups (see pwd.h / grp.h for the databases) */
uid_t getuid(void);
uid_t geteuid(void);
gid_t getgid(void);
gid_t getegid(void);
int getgroups(int size, gid_t list[]);
int setuid(uid_t uid);
int setgid(gid_t gid);
int seteuid(uid_t uid);
int setegid(gid_t gid);
pid_t getppid(void);
pid_t getpgrp(void);
pid_t getpgid(pid_t pid);
pid_t getsid(pid_t pid);
pid_t setsid(void);
int setpgid(pid_t pid, pid_t pgid);
int initgroups(const char *user, gid_t group);

/* file modes: kept in the process, applied by nothing (WASI p1 has no permission bits) */
mode_t umask(mode_t mask);
int chown(const char *path, uid_t owner, gid_t group);
int lchown(const char *path, uid_t owner, gid_t group);
int fchown(int fd, uid_t owner, gid_t group);

/* processes: none on WASI */
FILE *popen(const char *command, const char *mode);
int pclose(FILE *stream);
pid_t fork(void);
pid_t wait(int *status);
int kill(pid_t pid, int sig);

/* terminals: WASI can tell whether a descriptor is one (isatty) but not name it */
char *ttyname(int fd);
int ttyname_r(int fd, char *buf, size_t size);

/* descriptors: WASI p1 cannot duplicate them */
int dup(int fd);
int dup2(int fd, int fd2);
int getdtablesize(void);

/* sockets wasip1's <sys/socket.h> does not declare: WASI p1 can only use sockets it was given */
#ifndef __wasilibc_use_wasip2
int socket(int domain, int type, int protocol);
int connect(int fd, const struct sockaddr *addr, socklen_t len);
int bind(int fd, const struct sockaddr *addr, socklen_t len);
int listen(int fd, int backlog);
int getsockname(int fd, struct sockaddr *__restrict addr, socklen_t *__restrict len);
int getpeername(int fd, struct sockaddr *__restrict addr, socklen_t *__restrict len);
ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr, socklen_t alen);
ssize_t recvfrom(int fd, void *__restrict buf, size_t len, int flags, struct sockaddr *__restrict addr, socklen_t *__restrict alen);
int setsockopt(int fd, int level, int name, const void *value, socklen_t len);
#endif
/* Socket constants wasip1's headers leave out (Linux values); the calls using them fail cleanly. */
#ifndef SOMAXCONN
#define SOMAXCONN 128
#endif
#ifndef SO_ERROR
#define SO_ERROR 4
#endif
#ifndef SOL_IP
#define SOL_IP 0
#endif

#ifdef __cplusplus
}
#endif

#endif /* __wasi__ */
#endif /* WASIPORTS_COMPAT_H */
