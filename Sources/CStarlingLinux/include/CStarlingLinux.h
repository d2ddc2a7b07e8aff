// What Glibc's Swift module leaves out: epoll and eventfd, used to watch the sockets of hibernating
// connections, and malloc_usable_size and mallinfo2, with which the tests weigh what an idle connection,
// a subscription and a retained message keep. Empty on
// other systems, where idle connections stay awake: every Swift use is inside `#if os(Linux)`.
#ifndef C_STARLING_LINUX_H
#define C_STARLING_LINUX_H

#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <malloc.h>
#endif

#endif
