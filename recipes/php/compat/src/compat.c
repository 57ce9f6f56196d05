/* wasiports POSIX compatibility shim for WASI preview 1: definitions.
 * See include/wasiports/compat.h for the rules: fail the POSIX way, never pretend success
 * for something that did not happen. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <unistd.h>

#include "wasiports/compat.h"
#include "grp.h"
#include "netdb.h"
#include "pwd.h"
#include "syslog.h"

/* users and groups: one identity, uid/gid 0, as stat() reports for every file */
uid_t getuid(void) { return 0; }
uid_t geteuid(void) { return 0; }
gid_t getgid(void) { return 0; }
gid_t getegid(void) { return 0; }
int getgroups(int size, gid_t list[]) { (void) size; (void) list; return 0; }
static int same_id(unsigned id) { if (id == 0) return 0; errno = EPERM; return -1; }
int setuid(uid_t uid) { return same_id(uid); }
int setgid(gid_t gid) { return same_id(gid); }
int seteuid(uid_t uid) { return same_id(uid); }
int setegid(gid_t gid) { return same_id(gid); }
int initgroups(const char *user, gid_t group) { (void) user; (void) group; errno = EPERM; return -1; }

/* process groups and sessions: the process is alone; its parent is unknown (1, as for orphans) */
pid_t getppid(void) { return 1; }
pid_t getpgrp(void) { return 1; }
pid_t getpgid(pid_t pid) { (void) pid; return 1; }
pid_t getsid(pid_t pid) { (void) pid; return 1; }
pid_t setsid(void) { errno = EPERM; return -1; }
int setpgid(pid_t pid, pid_t pgid) { (void) pid; (void) pgid; errno = EPERM; return -1; }

struct passwd *getpwnam(const char *name) { (void) name; return NULL; }
struct passwd *getpwuid(uid_t uid) { (void) uid; return NULL; }
int getpwnam_r(const char *name, struct passwd *pwd, char *buf, size_t size, struct passwd **result)
{ (void) name; (void) pwd; (void) buf; (void) size; *result = NULL; return 0; }
int getpwuid_r(uid_t uid, struct passwd *pwd, char *buf, size_t size, struct passwd **result)
{ (void) uid; (void) pwd; (void) buf; (void) size; *result = NULL; return 0; }
struct group *getgrnam(const char *name) { (void) name; return NULL; }
struct group *getgrgid(gid_t gid) { (void) gid; return NULL; }
int getgrnam_r(const char *name, struct group *grp, char *buf, size_t size, struct group **result)
{ (void) name; (void) grp; (void) buf; (void) size; *result = NULL; return 0; }
int getgrgid_r(gid_t gid, struct group *grp, char *buf, size_t size, struct group **result)
{ (void) gid; (void) grp; (void) buf; (void) size; *result = NULL; return 0; }

/* file modes */
static mode_t current_umask = 022;
mode_t umask(mode_t mask) { mode_t old = current_umask; current_umask = mask & 0777; return old; }
int chown(const char *path, uid_t owner, gid_t group) { (void) path; (void) owner; (void) group; errno = ENOTSUP; return -1; }
int lchown(const char *path, uid_t owner, gid_t group) { (void) path; (void) owner; (void) group; errno = ENOTSUP; return -1; }
int fchown(int fd, uid_t owner, gid_t group) { (void) fd; (void) owner; (void) group; errno = ENOTSUP; return -1; }

/* processes */
FILE *popen(const char *command, const char *mode) { (void) command; (void) mode; errno = ENOSYS; return NULL; }
int pclose(FILE *stream) { (void) stream; errno = ECHILD; return -1; }
pid_t fork(void) { errno = ENOSYS; return -1; }
pid_t wait(int *status) { (void) status; errno = ECHILD; return -1; }
int kill(pid_t pid, int sig) { (void) pid; (void) sig; errno = EPERM; return -1; }

/* terminals */
char *ttyname(int fd) { errno = isatty(fd) ? ENOSYS : ENOTTY; return NULL; }
int ttyname_r(int fd, char *buf, size_t size) { (void) buf; (void) size; return isatty(fd) ? ENOSYS : ENOTTY; }

/* descriptors */
int dup(int fd) { (void) fd; errno = ENOTSUP; return -1; }
int dup2(int fd, int fd2) { (void) fd; (void) fd2; errno = ENOTSUP; return -1; }
int getdtablesize(void) { return 1024; }

/* sockets: only descriptors handed in by the runtime exist; nothing can be created or named */
#ifndef __wasilibc_use_wasip2
int socket(int domain, int type, int protocol) { (void) domain; (void) type; (void) protocol; errno = ENOSYS; return -1; }
int connect(int fd, const struct sockaddr *addr, socklen_t len) { (void) fd; (void) addr; (void) len; errno = ENOSYS; return -1; }
int bind(int fd, const struct sockaddr *addr, socklen_t len) { (void) fd; (void) addr; (void) len; errno = ENOSYS; return -1; }
int listen(int fd, int backlog) { (void) fd; (void) backlog; errno = ENOSYS; return -1; }
int getsockname(int fd, struct sockaddr *__restrict addr, socklen_t *__restrict len) { (void) fd; (void) addr; (void) len; errno = ENOSYS; return -1; }
int getpeername(int fd, struct sockaddr *__restrict addr, socklen_t *__restrict len) { (void) fd; (void) addr; (void) len; errno = ENOSYS; return -1; }
ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr, socklen_t alen)
{ (void) fd; (void) buf; (void) len; (void) flags; (void) addr; (void) alen; errno = ENOSYS; return -1; }
ssize_t recvfrom(int fd, void *__restrict buf, size_t len, int flags, struct sockaddr *__restrict addr, socklen_t *__restrict alen)
{ (void) fd; (void) buf; (void) len; (void) flags; (void) addr; (void) alen; errno = ENOSYS; return -1; }
int setsockopt(int fd, int level, int name, const void *value, socklen_t len)
{ (void) fd; (void) level; (void) name; (void) value; (void) len; errno = ENOSYS; return -1; }
#endif

/* name resolution: none */
int h_errno;
int getaddrinfo(const char *__restrict node, const char *__restrict service,
                const struct addrinfo *__restrict hints, struct addrinfo **__restrict res)
{ (void) node; (void) service; (void) hints; *res = NULL; return EAI_FAIL; }
void freeaddrinfo(struct addrinfo *res) { (void) res; }
const char *gai_strerror(int code)
{ return code == EAI_FAIL ? "Name resolution is not available on WASI" : "Unknown name resolution error"; }
int getnameinfo(const struct sockaddr *__restrict addr, socklen_t addrlen, char *__restrict host,
                socklen_t hostlen, char *__restrict serv, socklen_t servlen, int flags)
{ (void) addr; (void) addrlen; (void) host; (void) hostlen; (void) serv; (void) servlen; (void) flags; return EAI_FAIL; }
struct hostent *gethostbyname(const char *name) { (void) name; h_errno = NO_RECOVERY; return NULL; }
struct hostent *gethostbyaddr(const void *addr, socklen_t len, int type) { (void) addr; (void) len; (void) type; h_errno = NO_RECOVERY; return NULL; }
struct servent *getservbyname(const char *name, const char *proto) { (void) name; (void) proto; return NULL; }
struct servent *getservbyport(int port, const char *proto) { (void) port; (void) proto; return NULL; }
const char *hstrerror(int code) { (void) code; return "Name resolution is not available on WASI"; }

/* IP protocol numbers are fixed by IANA, not by a host database: the common ones are known. */
static char *no_aliases[] = { NULL };
static struct protoent protocols[] = {
	{ "ip", no_aliases, 0 }, { "icmp", no_aliases, 1 }, { "tcp", no_aliases, 6 },
	{ "udp", no_aliases, 17 }, { "ipv6", no_aliases, 41 }, { "ipv6-icmp", no_aliases, 58 },
};
struct protoent *getprotobyname(const char *name)
{
	for (size_t i = 0; i < sizeof protocols / sizeof protocols[0]; i++)
		if (strcasecmp(protocols[i].p_name, name) == 0) return &protocols[i];
	return NULL;
}
struct protoent *getprotobynumber(int proto)
{
	for (size_t i = 0; i < sizeof protocols / sizeof protocols[0]; i++)
		if (protocols[i].p_proto == proto) return &protocols[i];
	return NULL;
}

/* syslog: no system logger to reach */
void openlog(const char *ident, int option, int facility) { (void) ident; (void) option; (void) facility; }
void syslog(int priority, const char *format, ...) { (void) priority; (void) format; }
void closelog(void) {}
