// Linked into the test binaries of a ThreadSanitizer build only.
//
// GCC 12's TSan runtime does not intercept C11 thrd_create, and glibc's
// thrd_create starts the thread without going through the intercepted
// pthread_create. librdkafka starts its threads with thrd_create, so they
// ran without TSan's per-thread state and crashed in their first malloc.
// This definition in the executable takes precedence over glibc's for
// librdkafka and starts the thread through pthread_create, which TSan sees.
// (glibc's thrd_t is a pthread_t, so thrd_join and thrd_detach still work.)

#include <pthread.h>

#include <cerrno>
#include <cstdint>
#include <new>

namespace {

using thrd_start = int (*)(void*);
// The values of glibc's <threads.h> (not includable from C++ 20).
constexpr int thrd_success = 0;
constexpr int thrd_error = 2;
constexpr int thrd_nomem = 3;

struct start_args {
  thrd_start fn;
  void* arg;
};

void* run_thread(void* p) {
  auto args = *static_cast<start_args*>(p);
  delete static_cast<start_args*>(p);
  // thrd_join reads the int result back from the void*.
  return reinterpret_cast<void*>(static_cast<std::intptr_t>(args.fn(args.arg)));
}

} // namespace

extern "C" int thrd_create(pthread_t* thr, thrd_start fn, void* arg) {
  auto* args = new (std::nothrow) start_args{fn, arg};
  if (!args)
    return thrd_nomem;
  int rc = ::pthread_create(thr, nullptr, run_thread, args);
  if (rc != 0) {
    delete args;
    return rc == ENOMEM || rc == EAGAIN ? thrd_nomem : thrd_error;
  }
  return thrd_success;
}
