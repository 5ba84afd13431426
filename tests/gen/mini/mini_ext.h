/* An extension header of the fake mini API: functions here are extensions (not in the core header). */
#ifndef MINI_EXT_H
#define MINI_EXT_H

#include <mini/mini.h>

mini_status mini_ext_set_level(mini_device device, float level);
mini_status mini_ext_not_in_spec(mini_device device);

#endif
