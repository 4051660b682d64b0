# Warnings applied per target (STYLE.md point 18; compare c-ares
# EnableWarnings.cmake). MTS_WERROR turns them into errors: ON in CI and
# `make check`, OFF by default so packagers with newer compilers are not
# broken by a new warning.
set(MTS_WARNING_FLAGS
  -Wall -Wextra -Wpedantic
  -Wshadow                 # a local hiding another is a bug magnet
  -Wconversion -Wsign-conversion  # sizes and lengths from the wire
  -Wformat=2               # format strings with untrusted data
  -Wstrict-prototypes -Wmissing-prototypes  # every export has a header
  -Wcast-qual -Wwrite-strings -Wundef -Wvla
  -Wimplicit-fallthrough
  -Wnull-dereference
)

function(mts_warnings target)
  target_compile_options(${target} PRIVATE ${MTS_WARNING_FLAGS})
  if(MTS_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
