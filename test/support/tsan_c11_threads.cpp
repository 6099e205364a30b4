// SPDX-License-Identifier: Apache-2.0
// Linked into the test binaries of a ThreadSanitizer build only.
//
// GCC 12's TSan runtime does not intercept C11 thrd_create, and glibc's
// thrd_create starts the thread without going through the intercepted
// pthread_create. librdkafka starts its threads with thrd_create, so they
// ran without TSan's per-thread state and crashed in their first malloc.
// These definitions in the executable take precedence over glibc's for
// librdkafka: threads start through pthread_create and are joined through
// pthread_join, both of which TSan sees (without the join, TSan aborted
// with "dup thread with used id" once a new thread reused the id of an
// exited one). Its C11 mutexes and condition variables go to the pthread
// functions too: glibc's mtx_lock calls pthread internals TSan does not see,
// so every hand-off under those locks (a consumed message, freed by our
// consumer thread) was reported as a race. glibc's thrd_t is a pthread_t,
// its mtx_t and cnd_t have the size and layout of pthread_mutex_t and
// pthread_cond_t.

#include <pthread.h>
#include <time.h>

#include <cerrno>
#include <cstdint>
#include <new>

namespace {

using thrd_start = int (*)(void*);
// The values of glibc's <threads.h> (not includable from C++ 20).
constexpr int thrd_success = 0;
constexpr int thrd_error = 2;
constexpr int thrd_nomem = 3;
constexpr int thrd_timedout = 4;
constexpr int mtx_recursive = 1;

int to_thrd(int rc) {
  return rc == 0 ? thrd_success : rc == ETIMEDOUT ? thrd_timedout : thrd_error;
}

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

extern "C" int thrd_join(pthread_t thr, int* res) {
  void* out = nullptr;
  if (::pthread_join(thr, &out) != 0)
    return thrd_error;
  if (res)
    *res = static_cast<int>(reinterpret_cast<std::intptr_t>(out));
  return thrd_success;
}

extern "C" int mtx_init(pthread_mutex_t* m, int type) {
  pthread_mutexattr_t attr;
  ::pthread_mutexattr_init(&attr);
  if (type & mtx_recursive)
    ::pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  int rc = ::pthread_mutex_init(m, &attr);
  ::pthread_mutexattr_destroy(&attr);
  return to_thrd(rc);
}
extern "C" int mtx_lock(pthread_mutex_t* m) {
  return to_thrd(::pthread_mutex_lock(m));
}
extern "C" int mtx_unlock(pthread_mutex_t* m) {
  return to_thrd(::pthread_mutex_unlock(m));
}
extern "C" void mtx_destroy(pthread_mutex_t* m) {
  ::pthread_mutex_destroy(m);
}
extern "C" int cnd_init(pthread_cond_t* c) {
  return to_thrd(::pthread_cond_init(c, nullptr));
}
extern "C" int cnd_signal(pthread_cond_t* c) {
  return to_thrd(::pthread_cond_signal(c));
}
extern "C" int cnd_broadcast(pthread_cond_t* c) {
  return to_thrd(::pthread_cond_broadcast(c));
}
extern "C" int cnd_wait(pthread_cond_t* c, pthread_mutex_t* m) {
  return to_thrd(::pthread_cond_wait(c, m));
}
extern "C" int cnd_timedwait(pthread_cond_t* c, pthread_mutex_t* m,
                             const struct timespec* until) {
  return to_thrd(::pthread_cond_timedwait(c, m, until));
}
extern "C" void cnd_destroy(pthread_cond_t* c) {
  ::pthread_cond_destroy(c);
}
