"""How the package finds libdynhc (DYNHC_LIBRARY, next to the package, the
system search path), its version, and an allocation failure seen from Python.
Each case runs a fresh interpreter: the library is loaded at import."""
import ctypes
import ctypes.util
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import dynhc

PACKAGE = os.path.dirname(dynhc.__file__)
LIBRARY = os.environ["DYNHC_LIBRARY"]


def run(code, env_changes, pythonpath):
    env = {k: v for k, v in os.environ.items() if k != "DYNHC_LIBRARY"}
    env.update(env_changes)
    env["PYTHONPATH"] = pythonpath
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=60)


class LibraryLookup(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmp)
        # A copy of the package alone, with no library beside it.
        shutil.copytree(PACKAGE, os.path.join(self.tmp, "dynhc"),
                        ignore=shutil.ignore_patterns("__pycache__", "libdynhc.so*"))

    def test_dynhc_library_names_the_library(self):
        out = run("import dynhc; print(dynhc.library_path())", {"DYNHC_LIBRARY": LIBRARY},
                  self.tmp)
        self.assertEqual((out.returncode, out.stdout.strip()), (0, LIBRARY), out.stderr)

    def test_a_library_next_to_the_package_is_found_without_dynhc_library(self):
        beside = os.path.join(self.tmp, "dynhc", "libdynhc.so.0.1")
        os.symlink(os.path.realpath(LIBRARY), beside)
        out = run("import dynhc; print(dynhc.library_path(), dynhc.get_health_check_payload())",
                  {}, self.tmp)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertTrue(out.stdout.startswith(beside + " {'prompt': '1'"), out.stdout)

    def test_a_bad_dynhc_library_is_an_import_error_naming_it(self):
        out = run("import dynhc", {"DYNHC_LIBRARY": "/nonexistent/libdynhc.so"}, self.tmp)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("dynhc.errors.LibraryNotFoundError: dynhc: cannot load libdynhc from "
                      "DYNHC_LIBRARY=/nonexistent/libdynhc.so", out.stderr)

    def test_no_library_anywhere_names_all_three_places(self):
        if ctypes.util.find_library("dynhc") or glob.glob(
                os.path.join(sys.prefix, "lib", "libdynhc.so*")) or glob.glob(
                "/usr/local/lib/**/libdynhc.so*", recursive=True):
            self.skipTest("libdynhc is installed where the package looks")
        out = run("try:\n    import dynhc\nexcept ImportError as e:\n"
                  "    from dynhc.errors import Error\n"
                  "    print(type(e).__name__, isinstance(e, Error), e)\n",
                  {"LD_LIBRARY_PATH": ""}, self.tmp)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("LibraryNotFoundError True dynhc: cannot find libdynhc; tried "
                      "DYNHC_LIBRARY: not set; next to the package: no %s/dynhc/libdynhc.so*; "
                      "system search path, libdynhc.so.0.1: " % self.tmp, out.stdout)


class StructLayouts(unittest.TestCase):
    def test_ctypes_structs_match_the_headers(self):
        cc = shutil.which("cc") or shutil.which("gcc")
        if cc is None:
            self.skipTest("no C compiler to read the headers with")
        from dynhc import _lib
        structs = {"dynhc_config": _lib.Config, "dynhc_diag": _lib.Diag,
                   "dynhc_check": _lib.Check, "dynhc_label": _lib.Label,
                   "dynhc_endpoint_options": _lib.EndpointOptions}
        lines = ['#include <stddef.h>', '#include <stdio.h>', '#include <dynhc/dynhc.h>',
                 'int main(void) {']
        expected = []
        for c_name, py in structs.items():
            lines.append('printf("%s %%zu\\n", sizeof(%s));' % (c_name, c_name))
            expected.append("%s %d" % (c_name, ctypes.sizeof(py)))
            for field, _ in py._fields_:
                lines.append('printf("%s.%s %%zu\\n", offsetof(%s, %s));'
                             % (c_name, field, c_name, field))
                expected.append("%s.%s %d" % (c_name, field, getattr(py, field).offset))
        lines.append("return 0; }")
        with tempfile.TemporaryDirectory() as d:
            src, exe = os.path.join(d, "layout.c"), os.path.join(d, "layout")
            with open(src, "w") as f:
                f.write("\n".join(lines) + "\n")
            include = os.path.join(os.path.dirname(__file__), "..", "..", "include")
            subprocess.run([cc, "-I", include, src, "-o", exe], check=True,
                           env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"})
            printed = subprocess.run([exe], capture_output=True, text=True, check=True,
                                     env={}).stdout.split("\n")[:-1]
        self.assertEqual(printed, expected)


class Packaging(unittest.TestCase):
    def test_pip_installs_the_package_offline(self):
        source = os.path.join(os.path.dirname(__file__), "..", "..", "python")
        if subprocess.run([sys.executable, "-m", "pip", "--version"],
                          capture_output=True).returncode != 0:
            self.skipTest("no pip")
        with tempfile.TemporaryDirectory() as target:
            out = subprocess.run([sys.executable, "-m", "pip", "install", "--no-index",
                                  "--disable-pip-version-check", "--target", target, source],
                                 capture_output=True, text=True, timeout=300)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            installed = sorted(os.listdir(os.path.join(target, "dynhc")))
            self.assertEqual([f for f in installed if f != "__pycache__"], [
                "__init__.py", "_lib.py", "errors.py", "progress.py", "py.typed", "resolver.py",
                "scheduler.py"])
            run_out = run("import dynhc; print(dynhc.__file__)", {"DYNHC_LIBRARY": LIBRARY},
                          target)
            self.assertEqual(run_out.stdout.strip(),
                             os.path.join(target, "dynhc", "__init__.py"), run_out.stderr)


class Version(unittest.TestCase):
    def test_package_and_library_versions_agree(self):
        self.assertEqual(dynhc.__version__, dynhc.library_version())


class OutOfMemory(unittest.TestCase):
    def test_an_allocation_failure_is_a_memory_error(self):
        # Every allocation of libdynhc fails (dynhc_set_allocator, before any
        # object exists): the first object cannot be made.
        code = (
            "import ctypes, dynhc\n"
            "from dynhc._lib import lib\n"
            "fail = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_size_t)(lambda n: None)\n"
            "refail = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)"
            "(lambda p, n: None)\n"
            "cfail = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t)"
            "(lambda a, b: None)\n"
            "free = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(lambda p: None)\n"
            "lib.dynhc_set_allocator.argtypes = [type(fail), type(refail), type(cfail),"
            " type(free)]\n"
            "assert lib.dynhc_set_allocator(fail, refail, cfail, free) == 0\n"
            "try:\n"
            "    dynhc.get_health_check_payload()\n"
            "except MemoryError as e:\n"
            "    print(type(e).__name__, e)\n")
        out = run(code, {"DYNHC_LIBRARY": LIBRARY}, os.path.dirname(PACKAGE))
        self.assertEqual((out.returncode, out.stdout),
                         (0, "NoMemoryError dynhc_resolver_new: out of memory\n"), out.stderr)


if __name__ == "__main__":
    unittest.main()
