/* selftest.h — local commands that prove the fax path works on this machine without
 * a running gateway or a phone line: `faxbot selftest` (a generated two-page document
 * through the document pipeline and the built-in spandsp engine, back to back, audio
 * and/or T.38, received pages checked pixel by pixel) and `faxbot tiff-compare`. */
#ifndef FAXBOT_SELFTEST_H
#define FAXBOT_SELFTEST_H

/* `faxbot selftest [--transport audio|t38|both] [--ecm on|off|both] [--keep]`.
 * argv[0] is "selftest". Returns 0 if every call succeeded and every received page
 * is identical to the sent one (below the header band), 1 otherwise, 2 on bad usage. */
int cli_selftest(int argc, char **argv);

/* `faxbot tiff-compare SENT.tif RECEIVED.tif`. argv[0] is "tiff-compare". Prints
 * "identical: N pages (header band of R rows)" and returns 0, or prints why they
 * differ and returns 1; 2 on bad usage. */
int cli_tiff_compare(int argc, char **argv);

#endif
