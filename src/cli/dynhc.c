/* dynhc.c: placeholder until the CLI lands. */
#include <dynhc/dynhc.h>
int main(void) { return 2; }
