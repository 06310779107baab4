/** TODO(console helper): the audit screen. */
export default function Page() {
  return <h1>audit</h1>;
}
