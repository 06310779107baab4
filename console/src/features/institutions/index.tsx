/** TODO(console helper): the institutions screen. */
export default function Page() {
  return <h1>institutions</h1>;
}
