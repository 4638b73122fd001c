#ifndef SECAGG_CSODIUM_SHIM_H
#define SECAGG_CSODIUM_SHIM_H
#include <sodium.h>
#endif
