// Headers only; SwiftPM needs a source file to build the module.
#include "CStarlingLinux.h"
