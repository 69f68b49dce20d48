// One kernel source compiled for the host with host_emulation.h; the file to include comes as
// ZK_SOURCE. zk_kernel(name) returns a kernel's address (templates by the name CuPy would use).

#include "host_emulation.h"
#include ZK_SOURCE

#include <cstring>

struct zk_entry { const char* name; void* fn; };

#ifdef ZK_ELEMENTWISE
#define ZK_FIELD_ENTRIES(T) \
    {"field_add<" #T ">", (void*)&field_add<T>}, {"field_sub<" #T ">", (void*)&field_sub<T>}, \
    {"field_mul<" #T ">", (void*)&field_mul<T>}, {"field_neg<" #T ">", (void*)&field_neg<T>}, \
    {"field_square<" #T ">", (void*)&field_square<T>}, {"field_inv<" #T ">", (void*)&field_inv<T>}, \
    {"field_pow<" #T ">", (void*)&field_pow<T>}, {"field_batch_inv<" #T ">", (void*)&field_batch_inv<T>}, \
    {"field_is_reduced<" #T ">", (void*)&field_is_reduced<T>}, \
    {"field_to_montgomery<" #T ">", (void*)&field_to_montgomery<T>}, \
    {"field_from_montgomery<" #T ">", (void*)&field_from_montgomery<T>}
static const zk_entry zk_entries[] = {
    ZK_FIELD_ENTRIES(zk::Fr), ZK_FIELD_ENTRIES(zk::Fq),
    {"g1_check", (void*)&g1_check}, {"g1_add", (void*)&g1_add}, {"g1_double", (void*)&g1_double},
    {"g1_neg", (void*)&g1_neg}, {"g1_scalar_mul", (void*)&g1_scalar_mul},
};
#else
static const zk_entry zk_entries[] = {{"", nullptr}};
#endif

extern "C" void* zk_kernel(const char* name) {
    for (const zk_entry& e : zk_entries)
        if (std::strcmp(e.name, name) == 0) return e.fn;
    return nullptr;
}
