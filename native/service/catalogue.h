/* service/catalogue: the vocabulary the editor shares with the native side, as one JSON document
 * (`frugal catalogue --json`): the version, the actions (default tier, what the answer becomes),
 * the tiers and the providers, what each tier and provider is by default. lua/frugal/catalogue.lua is generated from it (make catalogue)
 * and a test fails when the two disagree, so the plugin never keeps a second copy by hand. */
#ifndef FRUGAL_SERVICE_CATALOGUE_H
#define FRUGAL_SERVICE_CATALOGUE_H

#include <jansson.h>

/* The catalogue as a new JSON object (the caller owns it: json_decref), or NULL when out of
 * memory. */
json_t *service_catalogue_json(void);

#endif
