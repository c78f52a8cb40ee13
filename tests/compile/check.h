/* Shared between the compile-test TUs. */
#ifndef ZENITH_CHECK_H
#define ZENITH_CHECK_H
#ifdef __cplusplus
extern "C" {
#endif
long zenith_check_impl(void);
#ifdef __cplusplus
}
#endif
#endif
