/** The messages sent to a borrower (on their file) or about a loan (on its page): when, by
 * which channel, the text as sent (always as text: it holds what borrowers and staff typed), and
 * where it stands; a message not sent says why. New ones appear as they are sent (live feed). */
import { Loading } from "@/components/Loading";
import { LoadMore } from "@/components/LoadMore";
import { t } from "@/i18n";

import { useMessages, type MessagesOf, type Notification } from "./api";
import "./notifications.css";

/** `2026-03-31T09:30:00.123Z` as `2026-03-31 09:30 UTC`. */
function when(time: string | null | undefined): string {
  return time ? `${time.slice(0, 10)} ${time.slice(11, 16)} UTC` : "—";
}

function Status({ message: m }: { message: Notification }) {
  const word = t(`notifications.status.${m.status}`);
  if (m.status === "suppressed" && m.failure_reason) {
    const reason = t(`notifications.reason.${m.failure_reason}`);
    return (
      <>
        {word}: {reason.startsWith("notifications.") ? m.failure_reason : reason}
      </>
    );
  }
  if (m.status === "failed" && m.failure_reason) return <>{word}: {m.failure_reason}</>;
  if (m.status === "queued" && m.next_attempt_time)
    return (
      <>
        {word} <span className="hint">({t("notifications.notBefore", { time: when(m.next_attempt_time) })})</span>
      </>
    );
  return <>{word}</>;
}

export function Messages({ of }: { of: MessagesOf }) {
  const pages = useMessages(of);
  return (
    <>
      <Loading query={pages}>
        {(data) => {
          const items = data.pages.flatMap((p) => p.items);
          if (!items.length) return <p>{t("notifications.none")}</p>;
          return (
            <div className="table-wrap">
              <table className="messages">
                <thead>
                  <tr>
                    <th scope="col">{t("notifications.col.date")}</th>
                    <th scope="col">{t("notifications.col.channel")}</th>
                    <th scope="col">{t("notifications.col.message")}</th>
                    <th scope="col">{t("notifications.col.status")}</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((m) => (
                    <tr key={m.id}>
                      <td className="date">{when(m.create_time)}</td>
                      <td>
                        {t(`notifications.channel.${m.channel}`)}
                        <span className="hint"> {t("notifications.to", { recipient: m.recipient || "—" })}</span>
                      </td>
                      <td>
                        {m.subject && <strong className="subject">{m.subject}</strong>}
                        <span className="text">{m.text}</span>
                      </td>
                      <td>
                        <Status message={m} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          );
        }}
      </Loading>
      <LoadMore query={pages} />
    </>
  );
}
