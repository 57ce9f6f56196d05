/* wasiports shim: the user database. WASI has none, so lookups find nothing (NULL, errno 0
 * as POSIX says for "no such entry"); the _r forms return 0 with *result = NULL. */
#ifndef WASIPORTS_PWD_H
#define WASIPORTS_PWD_H
#include <sys/types.h>

struct passwd {
	char *pw_name;
	char *pw_passwd;
	uid_t pw_uid;
	gid_t pw_gid;
	char *pw_gecos;
	char *pw_dir;
	char *pw_shell;
};

struct passwd *getpwnam(const char *name);
struct passwd *getpwuid(uid_t uid);
int getpwnam_r(const char *name, struct passwd *pwd, char *buf, size_t size, struct passwd **result);
int getpwuid_r(uid_t uid, struct passwd *pwd, char *buf, size_t size, struct passwd **result);
#endif
