// The Linux system calls Glibc's Swift module leaves out: epoll and eventfd, used to watch the sockets of
// hibernating connections.
#ifndef C_STARLING_LINUX_H
#define C_STARLING_LINUX_H

#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#endif

#endif
