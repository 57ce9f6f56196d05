"""Provision the WASI SDK: a wasi-sdk-shaped directory, whatever its origin.

Order: ``$WASI_SDK_PATH`` (validated), the official wasi-sdk release for this host (pinned in
``recipes/sdk.toml``, fetched through the usual origins), or one assembled from Debian's LLVM
packages plus a newer wasi-libc. Every recipe sees the same layout: ``bin/clang`` (wasm target by
default), ``bin/clang++``, ``bin/wasm-ld``, ``bin/llvm-ar``, ``bin/ranlib``, … and
``share/wasi-sysroot``. ``wasiports-sdk.json`` in the SDK records where it came from.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import cmd, fetch, fileio, hostpkgs, locks, paths, sdk_model, toolcache
from .debian import AptState
from .errors import FetchError, SdkError
from .sdk_model import SDK_DATA, SdkData  # noqa: F401 (SDK_DATA: where it is read)
from .unpack import unpack

INFO_FILE = "wasiports-sdk.json"
REQUIRED = ("bin/clang", "bin/clang++", "bin/wasm-ld", "bin/llvm-ar", "bin/ranlib",
            "share/wasi-sysroot/include", "share/wasi-sysroot/lib")
SMOKE_C = '#include <stdio.h>\nint main(void) { puts("wasi-sdk ok"); return 0; }\n'


@dataclass(frozen=True)
class SdkInfo:
    path: Path
    origin: str  # "WASI_SDK_PATH" | "wasi-sdk release" | "debian"
    clang_version: str
    details: dict[str, str] = field(default_factory=dict)
    tools: dict[str, str] = field(default_factory=dict)

    @property
    def sysroot(self) -> Path:
        return self.path / "share" / "wasi-sysroot"

    @property
    def clang_major(self) -> int:
        return int(self.clang_version.split(".")[0])

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "path": str(self.path)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SdkInfo:
        return cls(Path(data["path"]), data["origin"], data["clang_version"], data.get("details", {}),
                   data.get("tools", {}))


def load_data() -> SdkData:
    """recipes/sdk.toml, validated (:mod:`toolchain.sdk_model`)."""
    return sdk_model.load()


def missing_parts(path: Path) -> list[str]:
    return [rel for rel in REQUIRED if not (path / rel).exists()]


def _clang_version(path: Path, log: Path | None) -> str:
    out = cmd.run([path / "bin" / "clang", "--version"], log=log, capture=True)
    for word in out.split():
        if word[:1].isdigit() and word.count(".") >= 2:
            return word
    raise SdkError(f"could not read the clang version of {path}", why=out.strip()[:200])


def _write_info(info: SdkInfo) -> SdkInfo:
    (info.path / INFO_FILE).write_text(json.dumps(info.to_json(), indent=2) + "\n")
    return info


def from_env(value: str, log: Path | None) -> SdkInfo:
    path = Path(value).expanduser().resolve()
    if missing := missing_parts(path):
        raise SdkError(
            f"WASI_SDK_PATH={value} is not a usable WASI SDK",
            why="missing: " + ", ".join(missing),
            hint="point WASI_SDK_PATH at an unpacked wasi-sdk release, or unset it to let "
            "wasiports provision one",
        )
    return SdkInfo(path, "WASI_SDK_PATH", _clang_version(path, log))


def from_release(data: SdkData, log: Path | None) -> SdkInfo:
    release = data.release
    arch = platform.machine()
    archive = release.archives.get(arch)
    if archive is None:
        raise FetchError(f"no wasi-sdk {release.version} release is pinned for {arch}")
    dest = paths.sdk_dir() / f"wasi-sdk-{release.version}-{arch}"
    if not (dest / INFO_FILE).is_file():
        got = fetch.fetch(archive.file, archive.sha256,
                          [*fetch.upstream_origins([archive.url]), *fetch.mirror_origins(archive.file)])
        unpack(got.path, dest)
        info = SdkInfo(dest, "wasi-sdk release", _clang_version(dest, log),
                       {"release": release.version, "archive": archive.file,
                        "sha256": archive.sha256, "served_by": got.origin.kind,
                        "url": got.origin.url})
        _write_info(info)
    return SdkInfo.from_json(json.loads((dest / INFO_FILE).read_text()))


def _install_packages(packages: list[str], log: Path | None) -> None:
    hostpkgs.ensure(packages, "the WASI SDK assembled from Debian's LLVM", log=log, error=SdkError)


def _wrapper(target: str, tool: Path, sysroot: Path) -> str:
    """A shell script running ``tool`` for ``target`` with ``sysroot``; the paths are quoted for
    the shell, so spaces or ``$(...)`` in them stay literal."""
    command = shlex.join([str(tool), f"--target={target}", f"--sysroot={sysroot}"])
    return (
        "#!/bin/sh\n"
        "# Written by wasiports: Debian's LLVM defaults to the host; wasi-sdk's clang to wasm.\n"
        f'exec {command} "$@"\n'
    )


def from_debian(data: SdkData, log: Path | None) -> SdkInfo:
    deb = data.debian
    libc = deb.wasi_libc
    dest = paths.sdk_dir() / f"debian-clang{deb.clang}-wasi-libc-{libc.version.replace('~', '_')}"
    if (dest / INFO_FILE).is_file() and not missing_parts(dest):
        _install_packages(deb.packages, log)  # a new machine may have the dir but not LLVM
        return SdkInfo.from_json(json.loads((dest / INFO_FILE).read_text()))
    _install_packages(deb.packages, log)
    apt = AptState(data.apt.suites, data.apt.components)
    pool = apt.binary_file(libc.package, libc.version, libc.file, log=log)
    got = fetch.fetch(libc.file, libc.sha256, [fetch.Origin("debian", pool.url)])

    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "bin").mkdir(parents=True)
    cmd.run(["dpkg-deb", "-x", got.path, tmp / "wasi-libc"], log=log)
    sysroot_tmp = tmp / "share" / "wasi-sysroot"
    sysroot_tmp.mkdir(parents=True)
    (sysroot_tmp / "include").symlink_to("../../wasi-libc/usr/include")
    (sysroot_tmp / "lib").symlink_to("../../wasi-libc/usr/lib")
    llvm = Path(deb.llvm_bin)
    sysroot = dest / "share" / "wasi-sysroot"
    for name in deb.wrapped:
        wrapper = tmp / "bin" / name
        wrapper.write_text(_wrapper(deb.target, llvm / name, sysroot))
        wrapper.chmod(0o755)
    for name in deb.linked:
        (tmp / "bin" / name).symlink_to(llvm / name)
    for alias, name in deb.aliases.items():
        (tmp / "bin" / alias).symlink_to(name)
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    info = SdkInfo(dest, "debian", _clang_version(dest, log),
                   {"llvm_packages": " ".join(deb.packages),
                    "wasi_libc": f"{libc.package} {libc.version}",
                    "wasi_libc_sha256": libc.sha256, "wasi_libc_url": pool.url})
    return _write_info(info)


def provision(*, log: Path | None = None) -> SdkInfo:
    """Find or make the SDK; print and return where it came from."""
    data = load_data()
    if value := os.environ.get("WASI_SDK_PATH"):
        info = from_env(value, log)
    else:
        # Checkouts sharing one cache would unpack or assemble the same directory at once (and
        # from_debian removes its temporary tree first): one at a time; the next finds it made.
        with locks.exclusive(paths.sdk_dir() / ".lock", what="the WASI SDK in the shared cache"):
            try:
                info = from_release(data, log)
            except FetchError as exc:
                print(f"sdk: the wasi-sdk release is not reachable ({exc.what}); "
                      "assembling the equivalent from Debian packages")
                info = from_debian(data, log)
    print(f"sdk: {info.origin} at {info.path} (clang {info.clang_version})")
    return info


def provision_tools(*, log: Path | None = None) -> dict[str, str]:
    """Check each pinned tool of sdk.toml [tools]; return name -> absolute path (of its
    tool-output cache shim, ``build/tools/<name>``, for a tool with a ``cache`` reason)."""
    found: dict[str, str] = {}
    for name, tool in load_data().tools.items():
        path = paths.ROOT / tool.bin
        pin = f"{tool.package}@{tool.version}"
        if not path.exists():
            raise SdkError(f"tool {name} ({pin}) is not installed: {path} is missing",
                           hint="run scripts/setup (it runs `npm ci` from package-lock.json)")
        output = cmd.run([str(path), "--version"], log=log, capture=True)
        if tool.version_output not in output:
            raise SdkError(f"tool {name}: {path} is not {pin}",
                           why=f"--version printed {output.strip()!r}",
                           hint="run `npm ci` to install the locked version")
        print(f"sdk: tool {name}: {pin} at {path}")
        found[name] = str(path)
        if tool.cache:
            shim = paths.BUILD / "tools" / name
            fileio.write_text(shim, _shim_text(tool))
            shim.chmod(0o755)
            print(f"sdk: tool {name}: runs cached through {shim} ({tool.cache})")
            found[name] = str(shim)
    return found


def _shim_text(tool: sdk_model.Tool) -> str:
    return toolcache.shim_text(paths.venv_python(), tool.version_output, paths.ROOT / tool.bin, paths.ROOT)


def tool_shims_current() -> bool:
    """Each cached tool's shim is there and runs this checkout's cache with this environment."""
    for name, tool in load_data().tools.items():
        shim = paths.BUILD / "tools" / name
        if tool.cache and (not shim.is_file() or shim.read_text() != _shim_text(tool)):
            return False
    return True


def check(info: SdkInfo, work: Path, *, log: Path | None = None) -> Path:
    """Compile and link a C program for wasm32-wasi; return the module (the caller runs it)."""
    work.mkdir(parents=True, exist_ok=True)
    source = work / "sdk-check.c"
    source.write_text(SMOKE_C)
    module = work / "sdk-check.wasm"
    cmd.run([info.path / "bin" / "clang", "-O2", source, "-o", module], log=log)
    return module
