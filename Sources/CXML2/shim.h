// SPDX-License-Identifier: Apache-2.0
// The libxml2 headers the config module needs. Only ClusterConfig imports this module.
#include <libxml/xmlversion.h>
// Debian's libxml2 is built with ICU, so its encoding header pulls in the system's ICU headers, whose UErrorCode
// clashes with Foundation's bundled ICU in any Swift module that sees both. We never touch the ICU converter fields,
// so hide them.
#undef LIBXML_ICU_ENABLED
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/relaxng.h>

/// xmlFree is a global function-pointer variable, which Swift 6 rejects as shared mutable state.
static inline void cxml_free(void *p) { if (p) xmlFree(p); }

static void cxml_discard_generic_error(void *ctx, const char *msg, ...) { (void)ctx; (void)msg; }

/// Drops libxml2's unstructured messages (such as RelaxNG's "Unimplemented block" notes for name-class
/// exceptions) while `quiet` is set; structured errors are still collected.
static inline void cxml_quiet_generic_errors(int quiet) {
    xmlSetGenericErrorFunc(NULL, quiet ? cxml_discard_generic_error : NULL);
}
