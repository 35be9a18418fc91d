#ifndef TSEE_CMOSQUITTO_SHIM_H
#define TSEE_CMOSQUITTO_SHIM_H

/* libmosquitto 2.x (Debian's libmosquitto-dev): the client API and the MQTT 5 property and reason codes. */
#include <mosquitto.h>
#include <mqtt_protocol.h>

#endif
