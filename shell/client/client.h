/* client.h - the `hearth` command: one function per subcommand. */
#ifndef HEARTH_CLIENT_H
#define HEARTH_CLIENT_H

int cmd_attach(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_suspend(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_terminate(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_shell_token(int argc, char **argv);
int cmd_ssh_config(int argc, char **argv);
int cmd_ssh_keyscan(int argc, char **argv);
int cmd_shell(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_cp(int argc, char **argv);
int cmd_mcp(int argc, char **argv);
int cmd_images(int argc, char **argv);
int cmd_image(int argc, char **argv);
int cmd_image_create(int argc, char **argv);
int cmd_image_update(int argc, char **argv);
int cmd_image_logs(int argc, char **argv);
int cmd_image_list(int argc, char **argv);
int cmd_image_get(int argc, char **argv);
int cmd_image_versions(int argc, char **argv);
int cmd_image_delete(int argc, char **argv);
int cmd_image_activate(int argc, char **argv);
int cmd_image_deactivate(int argc, char **argv);
int cmd_tags(int argc, char **argv);
int cmd_connector(int argc, char **argv);
int cmd_connector_create(int argc, char **argv);
int cmd_connector_list(int argc, char **argv);
int cmd_connector_delete(int argc, char **argv);
int cmd_tag(int argc, char **argv);
int cmd_untag(int argc, char **argv);
int cmd_top(int argc, char **argv);

#endif
