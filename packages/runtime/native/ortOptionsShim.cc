// Options that onnxruntime-node 1.30's binding does not pass on to onnxruntime, passed on anyway.
//
// The binding filters the WebGPU provider's options to a fixed list (no `enableGraphCapture`) and has
// no run-config entries at all (no `gpu_graph_id`). Both calls go through onnxruntime's C API table
// (`OrtApi`), a table of function pointers the binding reads at every call. `install` replaces two of
// its slots in place, in this process:
//   - SessionOptionsAppendExecutionProvider: adds this thread's extra options to every "WebGPU" append
//     (set with `setWebGpuProviderOptions` just before `InferenceSession.create`, which appends
//     synchronously on the calling thread);
//   - RunOptionsSetRunTag: a tag of the form "run-config:key=value;key=value" becomes run-config
//     entries (AddRunConfigEntry) instead of a tag.
// The slots are those of onnxruntime 1.30's OrtApi (append-only: a slot never moves between
// versions); `install` refuses any other onnxruntime version.
#include <dlfcn.h>
#include <node_api.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace {

struct OrtStatus;
struct OrtSessionOptions;
struct OrtRunOptions;

struct OrtApiBase {
  const void* (*GetApi)(uint32_t version);
  const char* (*GetVersionString)();
};

using AppendProvider = OrtStatus* (*)(OrtSessionOptions*, const char*, const char* const*, const char* const*, size_t);
using SetRunTag = OrtStatus* (*)(OrtRunOptions*, const char*);
using AddRunConfigEntry = OrtStatus* (*)(OrtRunOptions*, const char*, const char*);

constexpr const char* kSupportedVersion = "1.30.0";
constexpr size_t kSetRunTagSlot = 42;
constexpr size_t kAddRunConfigEntrySlot = 165;
constexpr size_t kAppendProviderSlot = 216;
constexpr const char* kRunConfigPrefix = "run-config:";

std::once_flag installed;
std::string install_error;
AppendProvider original_append = nullptr;
SetRunTag original_set_tag = nullptr;
AddRunConfigEntry add_run_config_entry = nullptr;

thread_local std::vector<std::pair<std::string, std::string>> webgpu_extras;

OrtStatus* AppendWithExtras(OrtSessionOptions* options, const char* provider, const char* const* keys,
                            const char* const* values, size_t count) {
  if (provider == nullptr || std::strcmp(provider, "WebGPU") != 0 || webgpu_extras.empty())
    return original_append(options, provider, keys, values, count);
  std::vector<const char*> all_keys(keys, keys + count);
  std::vector<const char*> all_values(values, values + count);
  for (const auto& [key, value] : webgpu_extras) {
    all_keys.push_back(key.c_str());
    all_values.push_back(value.c_str());
  }
  return original_append(options, provider, all_keys.data(), all_values.data(), all_keys.size());
}

OrtStatus* TagOrRunConfig(OrtRunOptions* options, const char* tag) {
  const size_t prefix = std::strlen(kRunConfigPrefix);
  if (tag == nullptr || std::strncmp(tag, kRunConfigPrefix, prefix) != 0) return original_set_tag(options, tag);
  std::string entries(tag + prefix);
  size_t start = 0;
  while (start < entries.size()) {
    size_t end = entries.find(';', start);
    if (end == std::string::npos) end = entries.size();
    const std::string entry = entries.substr(start, end - start);
    const size_t eq = entry.find('=');
    if (eq != std::string::npos) {
      OrtStatus* status = add_run_config_entry(options, entry.substr(0, eq).c_str(), entry.substr(eq + 1).c_str());
      if (status != nullptr) return status;
    }
    start = end + 1;
  }
  return nullptr;
}

bool Patch(void** slot, void* replacement) {
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t start = reinterpret_cast<uintptr_t>(slot) & ~(page - 1);
  if (mprotect(reinterpret_cast<void*>(start), page, PROT_READ | PROT_WRITE) != 0) return false;
  *slot = replacement;
  mprotect(reinterpret_cast<void*>(start), page, PROT_READ);
  return true;
}

void Install(const std::string& library) {
  void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) {
    install_error = "onnxruntime is not loaded from " + library + " (load onnxruntime-node first)";
    return;
  }
  auto get_base = reinterpret_cast<const OrtApiBase* (*)()>(dlsym(handle, "OrtGetApiBase"));
  if (get_base == nullptr) {
    install_error = library + " has no OrtGetApiBase";
    return;
  }
  const OrtApiBase* base = get_base();
  const std::string version = base->GetVersionString();
  if (version != kSupportedVersion) {
    install_error = "onnxruntime " + version + " is loaded; the options shim knows the C API of " + kSupportedVersion;
    return;
  }
  // One table serves every API version up to the library's own.
  void** table = const_cast<void**>(static_cast<void* const*>(base->GetApi(1)));
  original_append = reinterpret_cast<AppendProvider>(table[kAppendProviderSlot]);
  original_set_tag = reinterpret_cast<SetRunTag>(table[kSetRunTagSlot]);
  add_run_config_entry = reinterpret_cast<AddRunConfigEntry>(table[kAddRunConfigEntrySlot]);
  if (!Patch(&table[kAppendProviderSlot], reinterpret_cast<void*>(&AppendWithExtras)) ||
      !Patch(&table[kSetRunTagSlot], reinterpret_cast<void*>(&TagOrRunConfig)))
    install_error = "cannot write onnxruntime's API table (mprotect refused)";
}

napi_value Throw(napi_env env, const std::string& message) {
  napi_throw_error(env, nullptr, message.c_str());
  return nullptr;
}

std::string StringArg(napi_env env, napi_value value) {
  size_t length = 0;
  napi_get_value_string_utf8(env, value, nullptr, 0, &length);
  std::string out(length, '\0');
  napi_get_value_string_utf8(env, value, out.data(), length + 1, &length);
  return out;
}

// install(libraryPath): patches the table once per process; returns onnxruntime's version.
napi_value InstallJs(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < 1) return Throw(env, "install(libraryPath) needs the path of libonnxruntime");
  const std::string library = StringArg(env, argv[0]);
  std::call_once(installed, Install, library);
  if (!install_error.empty()) return Throw(env, install_error);
  napi_value version;
  napi_create_string_utf8(env, kSupportedVersion, NAPI_AUTO_LENGTH, &version);
  return version;
}

// setWebGpuProviderOptions([[key, value], ...]): extra options of this thread's next WebGPU appends.
napi_value SetWebGpuProviderOptionsJs(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  std::vector<std::pair<std::string, std::string>> entries;
  uint32_t length = 0;
  if (argc < 1 || napi_get_array_length(env, argv[0], &length) != napi_ok)
    return Throw(env, "setWebGpuProviderOptions takes an array of [key, value] pairs");
  for (uint32_t i = 0; i < length; i++) {
    napi_value pair, key, value;
    napi_get_element(env, argv[0], i, &pair);
    napi_get_element(env, pair, 0, &key);
    napi_get_element(env, pair, 1, &value);
    entries.emplace_back(StringArg(env, key), StringArg(env, value));
  }
  webgpu_extras = std::move(entries);
  return nullptr;
}

}  // namespace

NAPI_MODULE_INIT() {
  napi_property_descriptor properties[] = {
      {"install", nullptr, InstallJs, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setWebGpuProviderOptions", nullptr, SetWebGpuProviderOptionsJs, nullptr, nullptr, nullptr, napi_default,
       nullptr},
  };
  napi_define_properties(env, exports, 2, properties);
  return exports;
}
