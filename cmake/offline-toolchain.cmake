# WAMR (vendored by v8x for WebAssembly on QuickJS) FetchContent-clones simde from GitHub.
# Point it at Debian's libsimde-dev headers instead so the build works offline.
set(FETCHCONTENT_SOURCE_DIR_SIMDE "/usr/include" CACHE PATH "" FORCE)
