import { chmod, mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

export const SECRET_MODE = 0o600;
export const PUBLIC_MODE = 0o644;
export const SECRET_DIR_MODE = 0o700;

/**
 * Write via a temporary file + rename so readers never see half a key, and chmod explicitly
 * because writeFile's mode is filtered by the umask and ignored for existing files.
 */
export async function writeFileAtomic(path: string, content: string, mode: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, content, { mode });
  await chmod(tmp, mode);
  await rename(tmp, path);
}

/** File text, or null when it does not exist / cannot be read. */
export async function readIfPresent(path: string): Promise<string | null> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return null;
  }
}

/** Tighten a secret file that someone loosened; never widens permissions. */
export async function ensureMode(path: string, mode: number): Promise<void> {
  try {
    const s = await stat(path);
    if ((s.mode & 0o777 & ~mode) !== 0) await chmod(path, mode);
  } catch {
    // Missing files are handled by the caller's validity checks.
  }
}
