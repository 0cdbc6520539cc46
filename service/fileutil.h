/**
 * @file fileutil.h
 * @brief Reading a whole file, the one way the service does it.
 */
#ifndef KG_FILEUTIL_H
#define KG_FILEUTIL_H

#include <stddef.h>

/**
 * Reads a whole file into memory, NUL-terminated.
 * @param path the file
 * @param[out] len its length in bytes (may be NULL)
 * @return the contents (caller frees) or NULL when it cannot be read
 */
char *kg_file_read(const char *path, size_t *len);

#endif
