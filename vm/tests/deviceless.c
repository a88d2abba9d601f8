/* Send a deviceless message through the libdevmapper C API:
 *   deviceless TARGET_TYPE MESSAGE
 * A DM_DEVICE_TARGET_MSG task whose name is a target type and whose message
 * starts with '%'. Prints the response; exits 1 on failure with the errno. */
#include <libdevmapper.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	struct dm_task *dmt;
	const char *resp;
	int ok;

	if (argc != 3) {
		fprintf(stderr, "usage: %s TARGET_TYPE MESSAGE\n", argv[0]);
		return 2;
	}
	if (!(dmt = dm_task_create(DM_DEVICE_TARGET_MSG)))
		return 1;
	ok = dm_task_set_name(dmt, argv[1]) && dm_task_set_sector(dmt, 0) &&
	     dm_task_set_message(dmt, argv[2]) && dm_task_run(dmt);
	if (ok) {
		resp = dm_task_get_message_response(dmt);
		printf("%s\n", resp ? resp : "(no response)");
	} else {
		printf("failed: errno %d (%s)\n", dm_task_get_errno(dmt), strerror(dm_task_get_errno(dmt)));
	}
	dm_task_destroy(dmt);
	return ok ? 0 : 1;
}
