"""The project's WSGI application, timed: each response carries the CPU time its worker thread
spent on it (`X-Bench-Cpu-Us`, microseconds of `time.thread_time`), from the WSGI call to the
last byte of the body, the database connection's end-of-request handling included."""

import os
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.http_bench.settings")

from benchmarks.http_bench import CPU_HEADER
from giftcards_project.wsgi import application as project_application


def application(environ, start_response):
    started = time.thread_time_ns()
    captured = []

    def capture(status, headers, exc_info=None):
        captured[:] = [status, headers, exc_info]
        return lambda data: None  # Django never uses the write() callable

    result = project_application(environ, capture)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    spent = (time.thread_time_ns() - started) // 1000
    status, headers, exc_info = captured
    start_response(status, [*headers, (CPU_HEADER, str(spent))], exc_info)
    return [body]
