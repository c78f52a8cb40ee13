/* zenith.h on its own. */
#define ZENITH_IMPLEMENTATION
#include "zenith.h"

int main(void) { return zenith_errno(ZENITH_ESYS(5)) == 5 ? 0 : 1; }
