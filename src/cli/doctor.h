/* doctor.h — `faxbot doctor`: checks this machine's set-up for the configured
 * backend without a running server. */
#ifndef FAXBOT_DOCTOR_H
#define FAXBOT_DOCTOR_H

int cli_doctor(int argc, char **argv);

#endif
