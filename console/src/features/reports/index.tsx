/** TODO(console helper): the reports screen. */
export default function Page() {
  return <h1>reports</h1>;
}
