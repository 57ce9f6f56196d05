# Loaded (-r) into the host's Ruby that runs bootstraptest/runner.rb for wasiports.
# runner.rb writes each assertion's program into its --dir, which is also the directory the guest
# (ruby.wasm) runs in and may write to: a guest could leave a symlink there under the name of a
# later assertion's file, and a plain File.open(name, "w") would then write wherever it points, on
# the host. Opening for writing with O_NOFOLLOW refuses that (Errno::ELOOP: the assertion errors).
module WasiportsNoFollow
  def open(name, mode = "r", *rest, **kw, &block)
    if mode.is_a?(String) && mode.start_with?("w", "a")
      flags = File::WRONLY | File::CREAT | File::NOFOLLOW
      flags |= mode.start_with?("a") ? File::APPEND : File::TRUNC
      return super(name, flags, *rest, **kw, &block)
    end
    super
  end
end
File.singleton_class.prepend(WasiportsNoFollow)
