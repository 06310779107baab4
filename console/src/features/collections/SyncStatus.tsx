/** What waits to be sent, in the one `status` region of the screen: "Offline" and how many
 * collections wait, or "All collections sent" once the server has them. */
import { t } from "@/i18n";

import { useOnline } from "@/lib/online";

import { useAllQueued } from "./hooks";
import type { Collection } from "./queue";

export function SyncStatus({ queue, online }: { queue: Collection[] | undefined; online: boolean }) {
  let text = "";
  if (queue) {
    const waiting = queue.filter((c) => c.state === "waiting").length;
    const refused = queue.length - waiting;
    if (!online) text = waiting === 1 ? t("collections.offlineOne") : t("collections.offlineMany", { count: waiting });
    else if (waiting) text = waiting === 1 ? t("collections.waitingOne") : t("collections.waitingMany", { count: waiting });
    else if (refused) text = refused === 1 ? t("collections.refusedOne") : t("collections.refusedMany", { count: refused });
    else text = t("collections.allSent");
  }
  return (
    <p role="status" className={online ? "sync-status" : "sync-status offline"}>
      {text}
    </p>
  );
}

/** Before anyone signs in (the app reopened from its cache, perhaps offline): the collections
 * this device still holds, which are sent after the next sign-in. */
export default function DeviceQueueStatus() {
  const queue = useAllQueued();
  const online = useOnline();
  if (online && !queue?.length) return null;
  return (
    <div className="device-queue">
      <SyncStatus queue={queue} online={online} />
      {!!queue?.length && <p className="hint">{t("collections.signInToSend")}</p>}
    </div>
  );
}
