# Core dependencies are required; the rest switch features on when found and say so when not.
find_package(Torch REQUIRED)        # any LibTorch: Debian's CPU build, or a CUDA one via CMAKE_PREFIX_PATH
find_package(ZLIB REQUIRED)         # gzipped IDX files
find_package(nlohmann_json 3 REQUIRED)
find_package(SQLite3 REQUIRED)      # the benchmark's results database
find_package(SQLiteCpp REQUIRED)    # its C++ interface
find_package(fmt REQUIRED)          # text formatting, used header-only (fmt::fmt-header-only)
find_package(CLI11 QUIET)
find_path(STB_INCLUDE_DIR stb_image.h PATH_SUFFIXES stb REQUIRED)
if(NOT CLI11_FOUND)
  find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp REQUIRED)
endif()

# Debian's LibTorch calls the system BLAS. Linking OpenBLAS directly lets oneclass report which
# kernels it picked and set its thread count.
find_library(OPENBLAS_LIBRARY NAMES openblas)
find_path(OPENBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas-pthread openblas x86_64-linux-gnu/openblas-pthread)
if(OPENBLAS_LIBRARY AND OPENBLAS_INCLUDE_DIR)
  set(ONECLASS_HAVE_OPENBLAS ON)
else()
  set(ONECLASS_HAVE_OPENBLAS OFF)
  message(STATUS "OpenBLAS not found: the BLAS in use will not be reported (apt-get install libopenblas-dev)")
endif()

set(ONECLASS_HAVE_DOWNLOAD OFF)
if(ONECLASS_WITH_DOWNLOAD)
  find_package(CURL QUIET)
  find_package(OpenSSL QUIET COMPONENTS Crypto)
  if(CURL_FOUND AND OpenSSL_FOUND)
    set(ONECLASS_HAVE_DOWNLOAD ON)
  else()
    message(STATUS "Download off: libcurl or OpenSSL not found (apt-get install libcurl4-openssl-dev libssl-dev); "
                   "data sets must then be copied in by hand")
  endif()
endif()

set(ONECLASS_HAVE_GNUPLOT OFF)
if(ONECLASS_WITH_FIGURES)
  find_program(GNUPLOT_EXECUTABLE gnuplot)
  if(GNUPLOT_EXECUTABLE)
    set(ONECLASS_HAVE_GNUPLOT ON)
    set(ONECLASS_GNUPLOT_EXECUTABLE ${GNUPLOT_EXECUTABLE})
  else()
    message(STATUS "Figures off: gnuplot not found (apt-get install gnuplot-nox); runs still write CSV and JSON")
  endif()
endif()

find_package(OpenMP)

# MPI spreads `oneclass bench` over processes and machines (mpirun); without it bench runs in one
# process.
set(ONECLASS_HAVE_MPI OFF)
if(ONECLASS_WITH_MPI)
  find_package(MPI QUIET COMPONENTS C)
  if(MPI_C_FOUND)
    set(ONECLASS_HAVE_MPI ON)
  else()
    message(STATUS "MPI off: no MPI found (apt-get install libopenmpi-dev openmpi-bin); `oneclass bench` runs in "
                   "one process")
  endif()
endif()

# libsvm trains the one-class SVM detector (ocsvm); without it that detector is not registered.
set(ONECLASS_HAVE_LIBSVM OFF)
if(ONECLASS_WITH_LIBSVM)
  find_path(LIBSVM_INCLUDE_DIR libsvm/svm.h)
  find_library(LIBSVM_LIBRARY NAMES svm)
  if(LIBSVM_INCLUDE_DIR AND LIBSVM_LIBRARY)
    set(ONECLASS_HAVE_LIBSVM ON)
  else()
    message(STATUS "ocsvm off: libsvm not found (apt-get install libsvm-dev); the other detectors are unaffected")
  endif()
endif()

# OpenCV reads the images of folder data sets (PNG, JPEG, BMP, TIFF; 8 and 16 bit) and resizes them;
# without it only the MNIST-format data sets are available.
set(ONECLASS_HAVE_OPENCV OFF)
if(ONECLASS_WITH_OPENCV)
  find_package(OpenCV QUIET COMPONENTS core imgproc imgcodecs)
  if(OpenCV_FOUND)
    set(ONECLASS_HAVE_OPENCV ON)
  else()
    message(STATUS "Folder data off: OpenCV not found (apt-get install libopencv-dev); MNIST-format data sets only")
  endif()
endif()

# The scoring service (`oneclass serve`): cpp-httplib.
set(ONECLASS_HAVE_HTTP OFF)
if(ONECLASS_WITH_HTTP)
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    pkg_check_modules(HTTPLIB QUIET IMPORTED_TARGET cpp-httplib)
  endif()
  if(HTTPLIB_FOUND)
    set(ONECLASS_HAVE_HTTP ON)
  else()
    message(STATUS "Service off: cpp-httplib not found (apt-get install libcpp-httplib-dev); `oneclass serve` says so")
  endif()
endif()

# The Python package (`import oneclass`): pybind11 and Debian's Python with NumPy.
set(ONECLASS_HAVE_PYTHON OFF)
if(ONECLASS_WITH_PYTHON)
  # Debian's interpreter, whose NumPy and pytest the package is tested with (a python3 earlier on
  # PATH may be another one).
  if(NOT Python3_EXECUTABLE AND EXISTS /usr/bin/python3)
    set(Python3_EXECUTABLE /usr/bin/python3)
  endif()
  find_package(Python3 QUIET COMPONENTS Interpreter Development.Module)
  if(Python3_FOUND)
    execute_process(COMMAND ${Python3_EXECUTABLE} -c "import pybind11; print(pybind11.get_cmake_dir())"
                    OUTPUT_VARIABLE pybind11_DIR OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    find_package(pybind11 CONFIG QUIET)
  endif()
  if(pybind11_FOUND)
    set(ONECLASS_HAVE_PYTHON ON)
  else()
    message(STATUS "Python package off: pybind11 or Python's headers not found (apt-get install python3-pybind11 "
                   "python3-dev python3-numpy)")
  endif()
endif()
