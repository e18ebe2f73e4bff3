/**
 * @file peerop/common.h
 * @brief Macros shared by every public header: export markers and C++ guards.
 */
#ifndef PEEROP_COMMON_H
#define PEEROP_COMMON_H

#include <stddef.h>

#ifdef __cplusplus
# define PEEROP_BEGIN_DECL extern "C" {
# define PEEROP_END_DECL }
#else
# define PEEROP_BEGIN_DECL
# define PEEROP_END_DECL
#endif

/*
 * The library is built with -fvisibility=hidden; only declarations wrapped in
 * PEEROP_EXTERN are exported, and tests/exports.txt lists every one of them.
 */
#if defined(__GNUC__) && __GNUC__ >= 4
# define PEEROP_EXTERN(type) extern __attribute__((visibility("default"))) type
#else
# define PEEROP_EXTERN(type) extern type
#endif

#if defined(__GNUC__)
# define PEEROP_FORMAT(fmt, args) __attribute__((format(printf, fmt, args)))
# define PEEROP_WARN_UNUSED __attribute__((warn_unused_result))
#else
# define PEEROP_FORMAT(fmt, args)
# define PEEROP_WARN_UNUSED
#endif

#endif /* PEEROP_COMMON_H */
