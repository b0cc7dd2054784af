/* The `frugal` executable: a thin main over libfrugal. */
#include <frugal.h>

int main(int argc, char **argv)
{
  return frugal_main(argc, argv);
}
