/* The exported ns_config_init, called as a program built against versions
 * 1-3 of the header calls it. This file does not include numashard.h, whose
 * ns_config_init is an inline function of the same name: a call here can
 * only reach the library's symbol (test_api.c, test_config_init_sizes). */
void ns_config_init(void *cfg);
void legacy_config_init(void *cfg);

void legacy_config_init(void *cfg) { ns_config_init(cfg); }
