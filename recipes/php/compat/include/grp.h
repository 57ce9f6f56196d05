/* wasiports shim: the group database. WASI has none, so lookups find nothing (see pwd.h). */
#ifndef WASIPORTS_GRP_H
#define WASIPORTS_GRP_H
#include <sys/types.h>

struct group {
	char *gr_name;
	char *gr_passwd;
	gid_t gr_gid;
	char **gr_mem;
};

struct group *getgrnam(const char *name);
struct group *getgrgid(gid_t gid);
int getgrnam_r(const char *name, struct group *grp, char *buf, size_t size, struct group **result);
int getgrgid_r(gid_t gid, struct group *grp, char *buf, size_t size, struct group **result);
#endif
