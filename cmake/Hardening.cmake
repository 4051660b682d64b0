# Hardening (STYLE.md point 18): fortified libc calls, stack protector,
# PIE and full RELRO. _FORTIFY_SOURCE needs optimisation, and is left out
# of sanitizer builds where it only gets in the way.
if(NOT MTS_SANITIZE AND NOT MTS_FUZZ)
  add_compile_options(-U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2)
endif()
add_compile_options(-fstack-protector-strong)
add_link_options(-Wl,-z,relro,-z,now)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
