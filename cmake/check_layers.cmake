# The layers, lowest first: text -> chat -> target -> verify -> drafters -> runtime make the library (text:
# UTF-8 helpers; chat: chat templates, generic, needing no model); include/ternspec is its
# public face; bench/ and tools/ sit above. Checked before anything compiles, naming the file and line:
#  - a library file includes its own layer and the ones below, never one above, nor bench/ or tools/;
#  - a public header (include/) and an example (examples/) include only "ternspec/..." and system headers;
#  - bench/ includes the library and itself (it measures internals on purpose), never tools/;
#  - tools/ includes include/ternspec, its own files and bench/; an internal header only where
#    cmake/tools_internal_includes.txt lists the pair (the library issue's remaining work: the list may only
#    shrink, and a listed include that is gone must leave the list, so it cannot grow back unnoticed).
# Every include form counts: "..." and <...>, with any spacing after the '#'.
# Run as: cmake -DROOT=<source dir> -P check_layers.cmake
set(library text chat target verify drafters runtime)
set(failed "")
set(include_regex "^[ \t]*#[ \t]*include[ \t]*[<\"]([^>\"]+)[>\"]")

# The project folder an included path names ("" for anything else: system and third-party headers).
function(project_folder path out)
  set(folder "")
  foreach(f text chat target verify drafters runtime tools bench include)
    if(path MATCHES "^${f}/")
      set(folder ${f})
    endif()
  endforeach()
  set(${out} "${folder}" PARENT_SCOPE)
endfunction()

# Each project include of `file` as "line|path".
function(project_includes file out)
  file(STRINGS ${file} lines REGEX "^[ \t]*#[ \t]*include")
  set(found "")
  foreach(line ${lines})
    if(line MATCHES "${include_regex}")
      list(APPEND found "${CMAKE_MATCH_1}")
    endif()
  endforeach()
  set(${out} "${found}" PARENT_SCOPE)
endfunction()

file(STRINGS ${ROOT}/cmake/tools_internal_includes.txt allowed REGEX "^[^#]")
set(used_allowances "")

file(GLOB_RECURSE sources ${ROOT}/text/*.[ch]pp ${ROOT}/chat/*.[ch]pp ${ROOT}/target/*.[ch]pp ${ROOT}/verify/*.[ch]pp ${ROOT}/drafters/*.[ch]pp
     ${ROOT}/runtime/*.[ch]pp ${ROOT}/include/*.h ${ROOT}/include/*.hpp ${ROOT}/examples/*.c
     ${ROOT}/examples/*.cpp ${ROOT}/bench/*.[ch]pp ${ROOT}/tools/*.[ch]pp)
foreach(f ${sources})
  file(RELATIVE_PATH rel ${ROOT} ${f})
  string(REGEX MATCH "^[^/]+" where ${rel})
  list(FIND library ${where} rank)
  project_includes(${f} paths)
  foreach(path ${paths})
    project_folder(${path} folder)
    if(folder STREQUAL "")
      continue()
    endif()
    set(bad "")
    if(rank GREATER -1)
      list(FIND library ${folder} inc_rank)
      if(inc_rank EQUAL -1 OR inc_rank GREATER rank)
        set(bad "layer ${where} includes ${folder}")
      endif()
    elseif(where STREQUAL "include" OR where STREQUAL "examples")
      set(bad "the public API may include only ternspec/ headers")
    elseif(where STREQUAL "bench")
      if(folder STREQUAL "tools")
        set(bad "bench includes tools")
      endif()
    elseif(where STREQUAL "tools")
      list(FIND library ${folder} inc_rank)
      if(inc_rank GREATER -1)
        list(FIND allowed "${rel} ${path}" at)
        if(at EQUAL -1)
          set(bad "tools reach the library through include/ternspec only")
        else()
          list(APPEND used_allowances "${rel} ${path}")
        endif()
      endif()
    endif()
    if(bad)
      string(APPEND failed "  ${rel}: #include ${path} (${bad})\n")
    endif()
  endforeach()
endforeach()
foreach(a ${allowed})
  list(FIND used_allowances "${a}" at)
  if(at EQUAL -1)
    string(APPEND failed "  cmake/tools_internal_includes.txt lists '${a}', which no longer occurs: remove it\n")
  endif()
endforeach()
if(failed)
  message(FATAL_ERROR "Layer violations (see cmake/check_layers.cmake for the rules):\n${failed}")
endif()
